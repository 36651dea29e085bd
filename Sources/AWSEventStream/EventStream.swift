/// The AWS event-stream binary framing (`application/vnd.amazon.eventstream`), as Amazon
/// Transcribe streaming and Bedrock `ConverseStream` speak it: a message is a prelude (total
/// length and headers length, 4 bytes each, big-endian, then the CRC-32 of those 8 bytes), the
/// headers, the payload, and the CRC-32 of everything before it.
///
/// A header is a 1-byte name length, the name (UTF-8), a 1-byte type and its value (see
/// ``EventStreamHeaderValue``). Pure: bytes in, messages out.
public struct EventStreamMessage: Sendable, Hashable {
    /// The headers, in order (`:message-type`, `:event-type`, `:content-type`, …).
    public var headers: [EventStreamHeader]
    /// The payload (JSON for Bedrock, audio or JSON for Transcribe).
    public var payload: [UInt8]

    /// A message.
    public init(headers: [EventStreamHeader], payload: [UInt8]) {
        self.headers = headers
        self.payload = payload
    }

    /// The value of the header `name`, if it is there.
    public func header(_ name: String) -> EventStreamHeaderValue? {
        headers.first { $0.name == name }?.value
    }

    /// The text of the string header `name`, if it is there and a string.
    public func string(_ name: String) -> String? {
        if case .string(let text) = header(name) { return text }
        return nil
    }

    /// The largest message accepted, bytes (the services' own limit is 16 MiB).
    public static let maximumLength = 16 << 20
    /// The largest headers section accepted, bytes (the services' own limit).
    public static let maximumHeadersLength = 128 << 10

    /// The message as bytes.
    public func encoded() -> [UInt8] {
        var headerBytes: [UInt8] = []
        for header in headers { header.encode(into: &headerBytes) }
        let total = 12 + headerBytes.count + payload.count + 4
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        bytes.appendBigEndian(UInt32(total))
        bytes.appendBigEndian(UInt32(headerBytes.count))
        bytes.appendBigEndian(CRC32.checksum(bytes[0..<8]))
        bytes += headerBytes
        bytes += payload
        bytes.appendBigEndian(CRC32.checksum(bytes[...]))
        return bytes
    }
}

/// One header of a message.
public struct EventStreamHeader: Sendable, Hashable {
    /// Its name (at most 255 bytes of UTF-8).
    public var name: String
    /// Its typed value.
    public var value: EventStreamHeaderValue

    /// A header.
    public init(_ name: String, _ value: EventStreamHeaderValue) {
        self.name = name
        self.value = value
    }

    func encode(into bytes: inout [UInt8]) {
        let nameBytes = Array(name.utf8.prefix(255))
        bytes.append(UInt8(nameBytes.count))
        bytes += nameBytes
        switch value {
        case .bool(let flag): bytes.append(flag ? 0 : 1)
        case .byte(let number): bytes += [2, UInt8(bitPattern: number)]
        case .int16(let number): bytes.append(3); bytes.appendBigEndian(UInt16(bitPattern: number))
        case .int32(let number): bytes.append(4); bytes.appendBigEndian(UInt32(bitPattern: number))
        case .int64(let number): bytes.append(5); bytes.appendBigEndian(UInt64(bitPattern: number))
        case .bytes(let data):
            bytes.append(6)
            bytes.appendBigEndian(UInt16(min(data.count, 0xFFFF)))
            bytes += data.prefix(0xFFFF)
        case .string(let text):
            let utf8 = Array(text.utf8.prefix(0xFFFF))
            bytes.append(7)
            bytes.appendBigEndian(UInt16(utf8.count))
            bytes += utf8
        case .timestamp(let milliseconds): bytes.append(8); bytes.appendBigEndian(UInt64(bitPattern: milliseconds))
        case .uuid(let data):
            bytes.append(9)
            bytes += data.prefix(16) + [UInt8](repeating: 0, count: max(0, 16 - data.count))
        }
    }
}

/// A header's value, by its type number on the wire.
public enum EventStreamHeaderValue: Sendable, Hashable {
    /// Types 0 (true) and 1 (false): no value bytes.
    case bool(Bool)
    /// Type 2: one byte.
    case byte(Int8)
    /// Type 3: two bytes.
    case int16(Int16)
    /// Type 4: four bytes.
    case int32(Int32)
    /// Type 5: eight bytes.
    case int64(Int64)
    /// Type 6: a 2-byte length, then the bytes.
    case bytes([UInt8])
    /// Type 7: a 2-byte length, then UTF-8.
    case string(String)
    /// Type 8: milliseconds since 1970, eight bytes.
    case timestamp(Int64)
    /// Type 9: sixteen bytes.
    case uuid([UInt8])
}

/// Why bytes are not an event-stream message.
public struct EventStreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Cuts a byte stream (arriving in pieces of any size) into messages, checking both CRCs and
/// every length before trusting it.
public struct EventStreamDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var consumed = 0

    /// An empty decoder.
    public init() {}

    /// Adds bytes that arrived.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if consumed > 0 && consumed >= buffer.count / 2 {
            buffer.removeFirst(consumed)
            consumed = 0
        }
        buffer += bytes
    }

    /// The next complete message, or `nil` until more bytes arrive.
    ///
    /// - Throws: ``EventStreamError`` for a corrupt prelude, lengths out of range, a CRC that
    ///   does not match, malformed headers or a header given twice; the stream cannot be
    ///   trusted after that.
    public mutating func next() throws(EventStreamError) -> EventStreamMessage? {
        let available = buffer.count - consumed
        guard available >= 12 else { return nil }
        let start = consumed
        let total = Int(buffer.readBigEndianUInt32(at: start))
        let headersLength = Int(buffer.readBigEndianUInt32(at: start + 4))
        guard buffer.readBigEndianUInt32(at: start + 8) == CRC32.checksum(buffer[start..<(start + 8)]) else {
            throw EventStreamError("prelude CRC mismatch")
        }
        guard total >= 16, total <= EventStreamMessage.maximumLength else { throw EventStreamError("message length \(total) is out of range") }
        guard headersLength <= EventStreamMessage.maximumHeadersLength, headersLength <= total - 16 else {
            throw EventStreamError("headers length \(headersLength) is out of range")
        }
        guard available >= total else { return nil }
        let end = start + total
        guard buffer.readBigEndianUInt32(at: end - 4) == CRC32.checksum(buffer[start..<(end - 4)]) else {
            throw EventStreamError("message CRC mismatch")
        }
        let headers = try Self.headers(buffer[(start + 12)..<(start + 12 + headersLength)])
        let payload = Array(buffer[(start + 12 + headersLength)..<(end - 4)])
        consumed = end
        return EventStreamMessage(headers: headers, payload: payload)
    }

    /// The bytes received but not yet part of a complete message.
    public var pendingByteCount: Int { buffer.count - consumed }

    static func headers(_ bytes: ArraySlice<UInt8>) throws(EventStreamError) -> [EventStreamHeader] {
        var headers: [EventStreamHeader] = []
        var index = bytes.startIndex
        func take(_ count: Int) throws(EventStreamError) -> ArraySlice<UInt8> {
            guard count >= 0, bytes.endIndex - index >= count else { throw EventStreamError("a header runs past the headers section") }
            defer { index += count }
            return bytes[index..<(index + count)]
        }
        func number(_ count: Int) throws(EventStreamError) -> UInt64 {
            try take(count).reduce(0) { $0 << 8 | UInt64($1) }
        }
        while index < bytes.endIndex {
            let nameLength = Int(try number(1))
            guard nameLength > 0 else { throw EventStreamError("a header with an empty name") }
            guard let name = String(validating: try take(nameLength), as: UTF8.self) else { throw EventStreamError("a header name that is not UTF-8") }
            let type = try number(1)
            let value: EventStreamHeaderValue
            switch type {
            case 0: value = .bool(true)
            case 1: value = .bool(false)
            case 2: value = .byte(Int8(bitPattern: UInt8(try number(1))))
            case 3: value = .int16(Int16(bitPattern: UInt16(try number(2))))
            case 4: value = .int32(Int32(bitPattern: UInt32(try number(4))))
            case 5: value = .int64(Int64(bitPattern: try number(8)))
            case 6: value = .bytes(Array(try take(Int(try number(2)))))
            case 7:
                guard let text = String(validating: try take(Int(try number(2))), as: UTF8.self) else {
                    throw EventStreamError("header \(name): a string that is not UTF-8")
                }
                value = .string(text)
            case 8: value = .timestamp(Int64(bitPattern: try number(8)))
            case 9: value = .uuid(Array(try take(16)))
            default: throw EventStreamError("header \(name): unknown value type \(type)")
            }
            guard !headers.contains(where: { $0.name == name }) else { throw EventStreamError("header \(name) appears twice") }
            headers.append(EventStreamHeader(name, value))
        }
        return headers
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib computes it.
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

extension [UInt8] {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    func readBigEndianUInt32(at index: Int) -> UInt32 {
        self[index..<(index + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
