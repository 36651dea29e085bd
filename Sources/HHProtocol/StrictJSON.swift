/// A strict reading of JSON (RFC 8259) before any decoder sees it: what the relay accepts is
/// exactly what every store can keep and every reader reads the same way.
///
/// Refused, each with the place it was found: bytes that are not UTF-8, a byte-order mark,
/// UTF-16 or UTF-32; raw control characters in strings; `\u0000` and unpaired surrogate
/// escapes (Postgres `jsonb` cannot store them); numbers with an exponent past ±300 or longer
/// than 64 characters; a key given twice in one object (readers
/// disagree on which copy wins); keys the expected ``Shape`` does not name; nesting deeper than
/// ``maximumDepth``; anything after the value. Scalars are checked for grammar only; their
/// types and ranges are the decoder's and the validator's business.
public enum StrictJSON {
    /// What a document may contain: which keys each object may have.
    public indirect enum Shape: Sendable {
        /// An object with these keys (each optional here; the decoder requires what it needs).
        case object([String: Shape])
        /// An array whose elements have this shape.
        case array(Shape)
        /// A string, number, boolean or null.
        case scalar
    }

    /// The deepest nesting accepted.
    public static let maximumDepth = 16

    /// Why a document was refused: what and where (a byte offset and the path).
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, with its place.
        public var description: String
    }

    /// Checks `bytes` against `shape`.
    public static func check(_ bytes: UnsafeRawBufferPointer, shape: Shape) throws(Failure) {
        var scanner = Scanner(bytes: bytes.assumingMemoryBound(to: UInt8.self))
        try scanner.document(shape)
    }

    /// Checks `bytes` against `shape`.
    public static func check(_ bytes: [UInt8], shape: Shape) throws(Failure) {
        let result: Result<Void, Failure> = bytes.withUnsafeBytes { buffer in
            Result { () throws(Failure) in try check(buffer, shape: shape) }
        }
        try result.get()
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var path: [String] = []

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func fail(_ what: String) -> Failure {
            let place = path.isEmpty ? "" : " at \(path.joined())"
            return Failure(description: "\(what)\(place) (byte \(index))")
        }

        /// A value of the wrong kind where `expected` belongs (worded as the decoder words it).
        func wrongType(_ expected: String) -> Failure {
            let place = path.isEmpty ? "the document" : path.joined()
            return Failure(description: "wrong type at \(place): expected \(expected) (byte \(index))")
        }

        mutating func document(_ shape: Shape) throws(Failure) {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw fail("a byte-order mark is not allowed: send UTF-8 without one") }
            if bytes.count >= 2, bytes[0] == 0 || bytes[1] == 0 { throw fail("not UTF-8 (UTF-16 or UTF-32?)") }
            skipSpace()
            try value(shape, depth: 0)
            skipSpace()
            guard index == bytes.count else { throw fail("unexpected bytes after the document") }
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func value(_ shape: Shape, depth: Int) throws(Failure) {
            guard depth < StrictJSON.maximumDepth else { throw fail("nested deeper than \(StrictJSON.maximumDepth)") }
            guard index < bytes.count else { throw fail("the document ends early") }
            // null stands for any absent value, whatever its shape would be.
            if bytes[index...].starts(with: "null".utf8) {
                index += 4
                return
            }
            let expected = switch shape {
            case .object: "an object"
            case .array: "an array"
            case .scalar: "a string, number or boolean"
            }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard case .object(let keys) = shape else { throw wrongType(expected) }
                try object(keys, depth: depth)
            case UInt8(ascii: "["):
                guard case .array(let element) = shape else { throw wrongType(expected) }
                try array(element, depth: depth)
            case UInt8(ascii: "\""):
                guard case .scalar = shape else { throw wrongType(expected) }
                _ = try string(keeping: false)
            default:
                guard case .scalar = shape else { throw wrongType(expected) }
                try literalOrNumber()
            }
        }

        mutating func object(_ keys: [String: Shape], depth: Int) throws(Failure) {
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
            // Objects of a known shape have a handful of keys: a list is cheaper than a set.
            var seen: [String] = []
            while true {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try string(keeping: true)
                guard !seen.contains(key) else { throw fail("key \"\(key)\" appears twice") }
                seen.append(key)
                guard let shape = keys[key] else { throw fail("unknown key \"\(Self.printable(key))\"") }
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
                index += 1
                skipSpace()
                path.append(path.isEmpty ? key : "." + key)
                try value(shape, depth: depth + 1)
                path.removeLast()
                guard try another(closedBy: "}", in: "an object") else { return }
            }
        }

        mutating func array(_ element: Shape, depth: Int) throws(Failure) {
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
            var position = 0
            while true {
                path.append("[\(position)]")
                try value(element, depth: depth + 1)
                path.removeLast()
                position += 1
                guard try another(closedBy: "]", in: "an array") else { return }
            }
        }

        /// After a member of an object or array: `true` past a comma (another member follows),
        /// `false` past the closing bracket.
        mutating func another(closedBy closing: Unicode.Scalar, in container: String) throws(Failure) -> Bool {
            skipSpace()
            guard index < bytes.count else { throw fail("the document ends inside \(container)") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipSpace()
                return true
            }
            guard bytes[index] == UInt8(ascii: closing) else { throw fail("expected ',' or '\(closing)'") }
            index += 1
            return false
        }

        /// Reads a string (the opening quote at `index`), validating UTF-8 and escapes; returns
        /// its text when `keeping` (keys), else an empty string (values: checked, not kept).
        mutating func string(keeping: Bool) throws(Failure) -> String {
            index += 1
            let start = index
            // Built only once an escape makes the text differ from the bytes, and only if kept.
            var unescaped: String.UnicodeScalarView?
            while true {
                guard index < bytes.count else { throw fail("the document ends inside a string") }
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    let end = index
                    index += 1
                    guard keeping else { return "" }
                    return unescaped.map(String.init) ?? String(decoding: bytes[start..<end], as: UTF8.self)
                case UInt8(ascii: "\\"):
                    if keeping && unescaped == nil { unescaped = String(decoding: bytes[start..<index], as: UTF8.self).unicodeScalars }
                    index += 1
                    guard index < bytes.count else { throw fail("the document ends inside a string") }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): unescaped?.append("\"")
                    case UInt8(ascii: "\\"): unescaped?.append("\\")
                    case UInt8(ascii: "/"): unescaped?.append("/")
                    case UInt8(ascii: "b"): unescaped?.append("\u{08}")
                    case UInt8(ascii: "f"): unescaped?.append("\u{0C}")
                    case UInt8(ascii: "n"): unescaped?.append("\n")
                    case UInt8(ascii: "r"): unescaped?.append("\r")
                    case UInt8(ascii: "t"): unescaped?.append("\t")
                    case UInt8(ascii: "u"):
                        let unit = try hex4()
                        if unit == 0 { throw fail("\\u0000 is not allowed in strings") }
                        if (0xDC00...0xDFFF).contains(unit) { throw fail("an unpaired low surrogate escape") }
                        if (0xD800...0xDBFF).contains(unit) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                                throw fail("an unpaired high surrogate escape")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("an unpaired high surrogate escape") }
                            unescaped?.append(Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!)
                        } else {
                            unescaped?.append(Unicode.Scalar(unit)!)
                        }
                    default:
                        throw fail("an unknown escape in a string")
                    }
                default:
                    guard byte >= 0x20 else { throw fail("a control character in a string (escape it)") }
                    let scalar = try utf8Scalar()
                    unescaped?.append(scalar)
                }
            }
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("a short \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail("a \\u escape that is not hexadecimal")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        /// Decodes one UTF-8 scalar at `index` (shortest form only, no surrogates).
        mutating func utf8Scalar() throws(Failure) -> Unicode.Scalar {
            let lead = bytes[index]
            let length: Int, minimum: UInt32
            var value: UInt32
            switch lead {
            case 0x00...0x7F: index += 1; return Unicode.Scalar(lead)
            case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F); minimum = 0x80
            case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F); minimum = 0x800
            case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07); minimum = 0x10000
            default: throw fail("bytes that are not UTF-8")
            }
            guard index + length <= bytes.count else { throw fail("bytes that are not UTF-8") }
            for offset in 1..<length {
                let byte = bytes[index + offset]
                guard byte & 0xC0 == 0x80 else { throw fail("bytes that are not UTF-8") }
                value = value << 6 | UInt32(byte & 0x3F)
            }
            guard value >= minimum, let scalar = Unicode.Scalar(value) else { throw fail("bytes that are not UTF-8") }
            index += length
            return scalar
        }

        mutating func literalOrNumber() throws(Failure) {
            for literal in ["true", "false", "null"] where bytes[index...].starts(with: literal.utf8) {
                index += literal.utf8.count
                return
            }
            // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
            let start = index
            func digits() -> Int {
                let from = index
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
                return index - from
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let leadingZero = index < bytes.count && bytes[index] == UInt8(ascii: "0")
            let integer = digits()
            guard integer > 0, !(leadingZero && integer > 1) else { index = start; throw fail("not a JSON value") }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail("a number with no digits after '.'") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                let exponentStart = index
                guard digits() > 0 else { throw fail("a number with no exponent digits") }
                // Beyond a double's range every reader rounds differently (to 0 or infinity)
                // and Postgres' numeric refuses some outright: refused here instead.
                let exponent = bytes[exponentStart..<index].reduce(0) { min($0 * 10 + Int($1 - UInt8(ascii: "0")), 100_000) }
                guard exponent <= 300 else { throw fail("a number outside the range of a double") }
            }
            guard index - start <= 64 else { throw fail("a number longer than 64 characters") }
        }

        /// A key as it may be quoted in a message: at most 40 characters, controls dropped.
        static func printable(_ key: String) -> String {
            let visible = key.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }
            let text = String(String.UnicodeScalarView(visible.prefix(40)))
            return visible.count > 40 ? text + "…" : text
        }
    }
}

extension SessionDocument {
    /// The keys a session document may have, at every level (contract v1).
    public static let shape: StrictJSON.Shape = .object([
        "schema_version": .scalar, "id": .scalar, "started_at": .scalar, "ended_at": .scalar, "end_reason": .scalar,
        "heart_rate": .array(.object(["t": .scalar, "bpm": .scalar, "snr_db": .scalar, "respiration_bpm": .scalar])),
        "summary": .object([
            "heart_rate_median_bpm": .scalar, "heart_rate_min_bpm": .scalar, "heart_rate_max_bpm": .scalar,
            "snr_median_db": .scalar, "seconds_with_estimate": .scalar, "respiration_median_bpm": .scalar,
            "variability": .object(["rmssd_ms": .scalar, "sdnn_ms": .scalar]),
        ]),
        "voice_turns": .array(.object(["id": .scalar, "start_s": .scalar, "end_s": .scalar])),
        "metadata": .object(["software_version": .scalar, "pulse_method": .scalar, "camera": .scalar]),
    ])
}
