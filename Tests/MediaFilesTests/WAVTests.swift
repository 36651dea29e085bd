import Foundation
import MediaFiles
import Testing

/// A temporary file path that is removed when the test ends.
private func temporaryPath(_ suffix: String = ".wav") -> String {
    NSTemporaryDirectory() + "hh-wav-\(UUID().uuidString)\(suffix)"
}

/// Little-endian bytes of `value`.
private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

/// A WAV file built by hand: RIFF header, the given chunks in order.
private func riff(_ chunks: [(String, [UInt8])], declaredRIFFSize: UInt32? = nil) -> [UInt8] {
    var body = Array("WAVE".utf8)
    for (id, payload) in chunks {
        body += Array(id.utf8) + le(UInt32(payload.count)) + payload
        if payload.count % 2 == 1 { body.append(0) }
    }
    return Array("RIFF".utf8) + le(declaredRIFFSize ?? UInt32(body.count)) + body
}

private func fmt(tag: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 16_000, bits: UInt16 = 16, blockAlign: UInt16? = nil) -> [UInt8] {
    let align = blockAlign ?? channels * bits / 8
    return le(tag) + le(channels) + le(rate) + le(rate * UInt32(align)) + le(align) + le(bits)
}

private func read(_ bytes: [UInt8]) throws -> (WAVFormat, [Float]) {
    let path = temporaryPath()
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = try WAVReader(path: path)
    var all: [Float] = []
    while case let block = try reader.read(maximumFrames: 3), !block.isEmpty { all += block }
    return (reader.format, all)
}

private func expectError(_ bytes: [UInt8], _ code: MediaFileError.Code, containing text: String, offset: Int? = nil) {
    do {
        _ = try read(bytes)
        Issue.record("expected \(code) error containing \"\(text)\"")
    } catch let error as MediaFileError {
        #expect(error.code == code)
        #expect(error.message.contains(text), "message: \(error.message)")
        if let offset { #expect(error.offset == offset, "offset: \(String(describing: error.offset))") }
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

@Suite struct WAVTests {
    static let layouts: [(WAVSampleFormat, Int, Int)] = WAVSampleFormat.allCases.flatMap { format in
        [(format, 1, 16_000), (format, 2, 48_000), (format, 6, 8_000), (format, 1, 44_100)]
    }

    @Test(arguments: layouts)
    func writtenFilesReadBackWithinOneQuantisationStep(format: WAVSampleFormat, channels: Int, rate: Int) throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let frames = 1001
        let samples: [Float] = (0..<(frames * channels)).map { i in
            let value = 0.9 * sin(Float(i) * 0.013) * (i % 7 == 0 ? -1 : 1)
            return i == 5 ? 1 : i == 6 ? -1 : value  // full scale both ways
        }
        let writer = try WAVWriter(path: path, format: WAVFormat(sampleRate: rate, channelCount: channels, sampleFormat: format))
        try writer.write(interleaved: Array(samples[..<(500 * channels)]))
        try writer.write(interleaved: Array(samples[(500 * channels)...]))
        try writer.close()

        let reader = try WAVReader(path: path)
        #expect(reader.format == WAVFormat(sampleRate: rate, channelCount: channels, sampleFormat: format))
        #expect(reader.frameCount == frames)
        var back: [Float] = []
        while case let block = try reader.read(maximumFrames: 97), !block.isEmpty { back += block }
        #expect(back.count == samples.count)
        let step: Float = switch format {
        case .unsigned8: 1 / 128
        case .signed16: 1 / 32768
        case .signed24: 1 / 8_388_608
        case .signed32, .float32, .float64: 1e-6
        }
        let worst = zip(samples, back).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= step, "largest error \(worst) for \(format)")

        // Wide integer formats and more than two channels need WAVE_FORMAT_EXTENSIBLE.
        let header = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(24)
        let tag = UInt16(header[20]) | UInt16(header[21]) << 8
        let extensible = channels > 2 || format == .signed24 || format == .signed32
        #expect(tag == (extensible ? 0xFFFE : format.isFloat ? 3 : 1))
    }

    @Test func unknownChunksAndOddSizesAreSkipped() throws {
        let samples = le(Int16(1000)) + le(Int16(-2000))
        let bytes = riff([("LIST", Array("INFOISFT\u{5}\0\0\0hello".utf8)), ("junk", [1, 2, 3]), ("fmt ", fmt()), ("fact", le(UInt32(2))), ("data", samples)])
        let (format, values) = try read(bytes)
        #expect(format.sampleFormat == .signed16)
        #expect(values == [1000 / 32768, -2000 / 32768])
    }

    @Test func extensibleFloatIsRead() throws {
        var chunk = fmt(tag: 0xFFFE, channels: 2, rate: 48_000, bits: 32)
        chunk += le(UInt16(22)) + le(UInt16(32)) + le(UInt32(3)) + le(UInt16(3))
        chunk += [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        let bytes = riff([("fmt ", chunk), ("data", le(Float(0.25).bitPattern) + le(Float(-0.5).bitPattern))])
        let (format, values) = try read(bytes)
        #expect(format == WAVFormat(sampleRate: 48_000, channelCount: 2, sampleFormat: .float32))
        #expect(values == [0.25, -0.5])
    }

    @Test func streamedDataOfUnknownSizeIsReadToTheEnd() throws {
        var bytes = riff([("fmt ", fmt())], declaredRIFFSize: 0xFFFF_FFFF)
        bytes += Array("data".utf8) + le(UInt32(0xFFFF_FFFF)) + le(Int16(16384)) + le(Int16(-16384)) + le(Int16(8192))
        let (_, values) = try read(bytes)
        #expect(values == [0.5, -0.5, 0.25])
    }

    @Test func malformedFilesAreClearErrors() throws {
        let data = le(Int16(1)) + le(Int16(2))
        expectError(Array("RIFX".utf8) + le(UInt32(4)) + Array("WAVE".utf8), .unsupported, containing: "RIFX")
        expectError(Array("OggS\0\0\0\0vorb".utf8), .badHeader, containing: "not a WAV file", offset: 0)
        expectError(Array("RIFF".utf8), .truncated, containing: "RIFF header", offset: 0)
        expectError(riff([("data", data)]), .badHeader, containing: "data chunk before the fmt chunk", offset: 12)
        expectError(riff([("fmt ", fmt())]), .truncated, containing: "before the data chunk", offset: 36)
        expectError(riff([("fmt ", fmt(tag: 2))]), .unsupported, containing: "format tag 0x2", offset: 20)
        expectError(riff([("fmt ", fmt(bits: 12, blockAlign: 2))]), .unsupported, containing: "12-bit PCM")
        expectError(riff([("fmt ", fmt(channels: 0, blockAlign: 2))]), .badHeader, containing: "0 channels")
        expectError(riff([("fmt ", fmt(rate: 0))]), .badHeader, containing: "sample rate 0")
        expectError(riff([("fmt ", fmt(blockAlign: 3))]), .badHeader, containing: "block align 3")
        expectError(riff([("fmt ", Array(fmt().prefix(12)))]), .badHeader, containing: "fmt chunk of 12 bytes")
        expectError(riff([("fmt ", fmt()), ("data", [1, 2, 3])]), .badHeader, containing: "not a whole number of 2-byte frames")
        // The data chunk promises 8 bytes; the file holds 4 of them.
        var truncated = riff([("fmt ", fmt()), ("data", data + data)])
        truncated.removeLast(4)
        expectError(truncated, .truncated, containing: "4 of its bytes are missing", offset: 48)
        // An unknown chunk that runs past the end of the file.
        var cut = riff([("fmt ", fmt()), ("LIST", [UInt8](repeating: 0, count: 40))])
        cut.removeLast(20)
        expectError(cut, .truncated, containing: "\"LIST\" chunk of 40 bytes", offset: 36)
        // Streamed data ending inside a frame.
        var partial = riff([("fmt ", fmt(channels: 2))], declaredRIFFSize: 0xFFFF_FFFF)
        partial += Array("data".utf8) + le(UInt32(0xFFFF_FFFF)) + data + [7]
        expectError(partial, .truncated, containing: "inside a frame of 4 bytes", offset: 48)
    }

    @Test func completeFramesBeforeATruncationAreDelivered() throws {
        var bytes = riff([("fmt ", fmt()), ("data", (0..<100).flatMap { le(Int16($0 * 100)) })])
        bytes.removeLast(50)
        let path = temporaryPath()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = try WAVReader(path: path)
        var delivered: [Float] = []
        do {
            while case let block = try reader.read(maximumFrames: 10), !block.isEmpty { delivered += block }
            Issue.record("expected a truncation error")
        } catch {
            #expect(error.code == .truncated)
        }
        #expect(delivered.count == 70)
        #expect(delivered.last == Float(69 * 100) / 32768)
    }

    @Test func sixteenBitSamplesReadAsStoredMatchTheFloatReading() throws {
        let stored: [Int16] = [0, 1, -1, 32_767, -32_768, 12_345, -23_456] + (0..<500).map { Int16(truncatingIfNeeded: $0 * 131) }
        let bytes = riff([("fmt ", fmt(channels: 1)), ("data", stored.flatMap { le($0) })])
        let asFloats = try read(bytes).1
        let reader = try WAVReader(bytes: bytes, name: "upload")
        var asStored: [Int16] = []
        while try reader.read(maximumFrames: 64, appendingTo: &asStored) > 0 {}
        #expect(asStored == stored)
        #expect(asStored.map { Float($0) / 32_768 } == asFloats)
        // A cut inside the data is the same error whichever way it is read.
        let truncated = try WAVReader(bytes: Array(bytes.dropLast(3)), name: "upload")
        var partial: [Int16] = []
        #expect(throws: MediaFileError.self) { while try truncated.read(maximumFrames: 64, appendingTo: &partial) > 0 {} }
        #expect(partial.count == (stored.count - 2) / 64 * 64)
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: MediaFileError.self) { try WAVReader(path: "/nonexistent/none.wav") }
        #expect(throws: MediaFileError.self) {
            try WAVWriter(path: "/nonexistent/dir/out.wav", format: WAVFormat(sampleRate: 16_000, channelCount: 1, sampleFormat: .signed16))
        }
    }

    /// Property: whatever is done to a valid file, the reader returns whole frames or throws a
    /// ``MediaFileError``; it never crashes or hangs.
    @Test(arguments: 1...300)
    func randomCorruptionIsAnErrorNotACrash(seed: Int) throws {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
        func next(_ range: Range<Int>) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return range.lowerBound + Int(state % UInt64(range.count))
        }
        let channels = UInt16(next(1..<4)), bits = [8, 16, 24, 32][next(0..<4)]
        var bytes = riff([("LIST", [UInt8](repeating: 65, count: next(0..<9))), ("fmt ", fmt(channels: channels, bits: UInt16(bits))),
                          ("data", (0..<(next(0..<40) * Int(channels) * bits / 8)).map { UInt8(truncatingIfNeeded: $0 * 37) })])
        for _ in 0..<next(1..<4) where !bytes.isEmpty {
            let at = next(0..<bytes.count)
            switch next(0..<4) {
            case 0: bytes[at] ^= UInt8(1 << next(0..<8))
            case 1: bytes[at] = 0xFF
            case 2: bytes.removeSubrange(at...)
            default: bytes.insert(contentsOf: [0xFF, 0xFF, 0xFF, 0x7F], at: at)
            }
        }
        do {
            let (format, values) = try read(bytes)
            #expect(values.count % format.channelCount == 0)
        } catch let error as MediaFileError {
            #expect(!error.message.isEmpty)
        }
    }
}
