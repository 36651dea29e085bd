import AWSEventStream
import Foundation
import Testing

/// The event-stream framing against AWS's own test vectors (aws-sdk-go's testdata, Apache-2.0;
/// `Fixtures/eventstream-vectors.json` says where each came from).
@Suite struct EventStreamTests {
    struct Vectors: Decodable {
        struct Header: Decodable {
            var name: String
            var type: String
            var value: Value
        }
        enum Value: Decodable {
            case number(Int64), text(String), flag(Bool)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let flag = try? container.decode(Bool.self) { self = .flag(flag) }
                else if let number = try? container.decode(Int64.self) { self = .number(number) }
                else { self = .text(try container.decode(String.self)) }
            }
        }
        struct Positive: Decodable {
            var name: String
            var encoded_hex: String
            var headers: [Header]
            var payload_hex: String
        }
        struct Negative: Decodable {
            var name: String
            var encoded_hex: String
            var error: String
        }
        var positive: [Positive]
        var negative: [Negative]
        /// More from botocore's tests (Apache-2.0): every value type at its edges, a repeated header.
        var extra_positive: [Positive]
        var extra_negative: [Negative]
    }

    static let vectors: Vectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/eventstream-vectors.json")
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }()

    static func bytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    static func expected(_ header: Vectors.Header) -> EventStreamHeaderValue {
        switch (header.type, header.value) {
        case ("bool", .flag(let flag)): .bool(flag)
        case ("byte", .number(let number)): .byte(Int8(number))
        case ("int16", .number(let number)): .int16(Int16(number))
        case ("int32", .number(let number)): .int32(Int32(number))
        case ("int64", .number(let number)): .int64(number)
        case ("timestamp", .number(let number)): .timestamp(number)
        case ("string", .text(let text)): .string(text)
        case ("bytes", .text(let hex)): .bytes(bytes(hex))
        case ("uuid", .text(let hex)): .uuid(bytes(hex))
        default: fatalError("vector header \(header.name) of type \(header.type) not understood")
        }
    }

    @Test func theVectorsAreThere() {
        #expect(Self.vectors.positive.count >= 5 && Self.vectors.negative.count >= 4)
    }

    @Test func positiveVectorsDecodeToTheirHeadersAndPayloadAndEncodeBackByteForByte() throws {
        for vector in Self.vectors.positive + Self.vectors.extra_positive {
            let encoded = Self.bytes(vector.encoded_hex)
            var decoder = EventStreamDecoder()
            decoder.append(encoded)
            let message = try #require(try decoder.next(), "\(vector.name)")
            #expect(message.headers == vector.headers.map { EventStreamHeader($0.name, Self.expected($0)) }, "\(vector.name)")
            #expect(message.payload == Self.bytes(vector.payload_hex), "\(vector.name)")
            #expect(message.encoded() == encoded, "\(vector.name) re-encodes byte for byte")
            #expect(try decoder.next() == nil && decoder.pendingByteCount == 0)
        }
    }

    @Test func negativeVectorsAreRefused() {
        // A header given twice is wire-valid but refused (as botocore does): readers would disagree.
        for vector in Self.vectors.negative + Self.vectors.extra_negative {
            var decoder = EventStreamDecoder()
            decoder.append(Self.bytes(vector.encoded_hex))
            #expect(throws: EventStreamError.self, "\(vector.name): \(vector.error)") { _ = try decoder.next() }
        }
    }

    @Test func messagesArrivingInPiecesOfAnySizeComeOutWhole() throws {
        let messages = Self.vectors.positive.map { Self.bytes($0.encoded_hex) }
        let stream = messages.flatMap { $0 }
        for piece in [1, 3, 7, 64, stream.count] {
            var decoder = EventStreamDecoder()
            var decoded: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                decoder.append(stream[offset..<min(offset + piece, stream.count)])
                offset += piece
                while let message = try decoder.next() { decoded.append(message.encoded()) }
            }
            #expect(decoded == messages, "pieces of \(piece) bytes")
        }
    }

    @Test func lengthsOutOfRangeAreRefusedBeforeWaitingForThem() {
        // A prelude claiming 1 GiB, with a correct prelude CRC: refused at once, not buffered for.
        var prelude: [UInt8] = [0x40, 0, 0, 0, 0, 0, 0, 0]
        let crc = CRC32.checksum(prelude[...])
        prelude += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        var decoder = EventStreamDecoder()
        decoder.append(prelude)
        #expect(throws: EventStreamError.self) { _ = try decoder.next() }
    }

    @Test func crc32IsZlibs() {
        #expect(CRC32.checksum(Array("123456789".utf8)[...]) == 0xCBF4_3926)
        #expect(CRC32.checksum([][...]) == 0)
    }
}
