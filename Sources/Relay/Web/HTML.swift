/// A fragment of HTML whose interpolated strings are escaped: `"<td>\(name)</td>" as HTML`
/// escapes `name`, while an interpolated `HTML` value goes in as it is. Patient and user text
/// can only reach a page through an interpolation, so it is always escaped.
public struct HTML: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The markup.
    public private(set) var description: String

    public init(stringLiteral value: String) { description = value }

    public init(stringInterpolation: StringInterpolation) { description = stringInterpolation.markup }

    /// The builder behind `"…\(x)…" as HTML`.
    public struct StringInterpolation: StringInterpolationProtocol {
        var markup = ""

        public init(literalCapacity: Int, interpolationCount: Int) { markup.reserveCapacity(literalCapacity + 16 * interpolationCount) }

        public mutating func appendLiteral(_ literal: String) { markup += literal }
        /// Text, escaped.
        public mutating func appendInterpolation(_ text: String) { markup += HTML.escape(text) }
        /// Text, escaped; nothing for nil.
        public mutating func appendInterpolation(_ text: String?) { if let text { markup += HTML.escape(text) } }
        /// A number.
        public mutating func appendInterpolation(_ number: Int) { markup += String(number) }
        /// Markup, as it is.
        public mutating func appendInterpolation(_ fragment: HTML) { markup += fragment.description }
        /// Markup fragments one after the other.
        public mutating func appendInterpolation(_ fragments: [HTML]) { for fragment in fragments { markup += fragment.description } }
    }

    /// `text` with `& < > " '` replaced by their character references: safe in element content
    /// and in quoted attribute values.
    public static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}
