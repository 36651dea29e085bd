import Foundation
import HHProtocol

/// The JSON conventions of the control socket and `hhctl --json`: the wire protocol's
/// timestamps, with property names converted to snake_case (these types are small and not on
/// any hot path).
public enum ControlJSON {
    /// An encoder for status and control answers.
    public static func encoder() -> JSONEncoder {
        let encoder = WireJSON.encoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    /// A decoder for status and control answers.
    public static func decoder() -> JSONDecoder {
        let decoder = WireJSON.decoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
