import Foundation
import MediaFiles
import Testing

/// Property: whatever is done to a valid file, the reader returns frames of the declared size
/// or throws a ``MediaFileError``; it never crashes, hangs or returns a frame of another size.
@Suite struct Y4MFuzzTests {
    struct Mutator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    static let seeds: [UInt64] = Array(1...400)

    @Test(arguments: seeds)
    func randomCorruptionIsAnErrorNotACrash(seed: UInt64) throws {
        var random = Mutator(state: seed &* 0x9E37_79B9_7F4A_7C15 | 1)
        let spaces = Y4MColourSpace.allCases
        let header = Y4MHeader(
            width: Int.random(in: 1...24, using: &random),
            height: Int.random(in: 1...16, using: &random),
            frameRate: (Int.random(in: 1...60, using: &random), 1),
            colourSpace: spaces[Int.random(in: 0..<spaces.count, using: &random)],
            fullRange: Bool.random(using: &random)
        )
        var bytes = Array((header.line + "\n").utf8)
        for f in 0..<Int.random(in: 0...4, using: &random) {
            bytes += Array("FRAME\n".utf8)
            bytes += (0..<header.frameSize).map { UInt8(truncatingIfNeeded: $0 + f) }
        }
        // 1–4 mutations: flip, overwrite, insert, delete, truncate, splice header bytes.
        for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
            case 1: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 2: bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, at: at)
            case 3: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &random)))
            case 4: bytes.removeSubrange(at...)
            default:
                let tokens = [" W", " H0", " F0:0", " C", " X", "  ", "\n", "FRAME", " Ip", " W99999999999999999999"]
                bytes.insert(contentsOf: Array(tokens[Int.random(in: 0..<tokens.count, using: &random)].utf8), at: at)
            }
        }
        let path = NSTemporaryDirectory() + "hh-fuzz-\(seed)-\(UUID().uuidString).y4m"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        do {
            let reader = try Y4MReader(path: path)
            var frame: [UInt8] = []
            var frames = 0
            while try reader.readFrame(into: &frame) {
                #expect(frame.count == reader.header.frameSize)
                frames += 1
                #expect(frames <= 10)
                if frames > 10 { break }
            }
        } catch {
            // Typed throws: every failure is a MediaFileError.
            #expect(!error.message.isEmpty)
        }
    }
}
