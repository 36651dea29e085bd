import Foundation

/// The JSON conventions of the wire protocol: snake_case keys, ISO 8601 dates with
/// fractional seconds in UTC, sorted keys (so the same document always has the same bytes).
public enum WireJSON {
    /// An encoder with the protocol's conventions.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(timestampStyle))
        }
        return encoder
    }

    /// A decoder with the protocol's conventions.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = try? Date(text, strategy: timestampStyle) { return date }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected an ISO 8601 timestamp, got \"\(text)\"")
        }
        return decoder
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// The error body of every relay error response: `{"error": {"code": "...", "message": "..."}}`.
public struct ErrorResponse: Codable, Sendable, Hashable {
    /// The error.
    public var error: Detail

    /// A machine-readable code and a human-readable message.
    public struct Detail: Codable, Sendable, Hashable {
        /// A stable machine-readable code, e.g. `conflict`.
        public var code: String
        /// What went wrong, for people.
        public var message: String
    }

    /// Creates an error body.
    public init(code: String, message: String) {
        self.error = Detail(code: code, message: message)
    }
}
