/// Reads a RIFF/WAVE file as a stream of float samples, a block at a time.
///
/// Reads integer PCM (8, 16, 24, 32 bits) and IEEE float (32, 64 bits), any channel count
/// and sample rate, plain `WAVE_FORMAT_PCM`/`IEEE_FLOAT` and `WAVE_FORMAT_EXTENSIBLE`
/// headers. Chunks other than `fmt ` and `data` (`LIST`, `fact`, `cue `, …) are skipped.
/// A data chunk whose size is `0xFFFFFFFF` (written by a recorder that could not seek back)
/// is read to the end of the file. Only the header and one block are held in memory.
///
/// Not thread-safe: owned by one reader at a time.
public final class WAVReader {
    /// The layout of the samples.
    public let format: WAVFormat
    /// Frames in the data chunk, or `nil` when its size is not recorded.
    public let frameCount: Int?
    /// Byte offset of the first sample in the file.
    public let dataOffset: Int

    private let file: FileReader
    /// Data bytes still to read, or `nil` to read to the end of the file.
    private var remainingBytes: Int?
    private var bytes: [UInt8] = []

    /// Largest `fmt ` chunk accepted; real ones are 16 to 40 bytes.
    private static let maximumFormatChunk = 1024
    /// The GUID tail shared by the `WAVE_FORMAT_EXTENSIBLE` PCM and float subformats.
    private static let subformatTail: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]

    /// Opens `path` and reads the header up to the first sample.
    ///
    /// - Throws: ``MediaFileError`` naming the problem and its byte offset for a file that is not
    ///   a WAV file, a malformed or truncated header, or an unsupported encoding.
    public convenience init(path: String) throws(MediaFileError) {
        try self.init(file: FileReader(path: path))
    }

    /// Reads the header of the WAV file in `bytes` (an upload), called `name` in errors.
    ///
    /// - Throws: ``MediaFileError`` as ``init(path:)`` does.
    public convenience init(bytes: [UInt8], name: String) throws(MediaFileError) {
        try self.init(file: FileReader(bytes: bytes, name: name))
    }

    private init(file: FileReader) throws(MediaFileError) {
        self.file = file
        var scratch: [UInt8] = []

        guard try file.readExactly(12, into: &scratch) == 12 else {
            throw MediaFileError(.truncated, "file ends inside the RIFF header (12 bytes)", offset: 0)
        }
        let riff = String(decoding: scratch[0..<4], as: UTF8.self)
        let wave = String(decoding: scratch[8..<12], as: UTF8.self)
        if riff == "RF64" || riff == "RIFX" {
            throw MediaFileError(.unsupported, "\(riff) files are not supported, only little-endian RIFF", offset: 0)
        }
        guard riff == "RIFF", wave == "WAVE" else {
            throw MediaFileError(.badHeader, "not a WAV file: expected RIFF…WAVE, found \(Self.printable(scratch[0..<4]))…\(Self.printable(scratch[8..<12]))", offset: 0)
        }

        var format: WAVFormat?
        while true {
            let chunkOffset = file.offset
            let got = try file.readExactly(8, into: &scratch)
            guard got == 8 else {
                throw MediaFileError(.truncated, format == nil ? "file ends before the fmt chunk" : "file ends before the data chunk", offset: chunkOffset)
            }
            let id = String(decoding: scratch[0..<4], as: UTF8.self)
            let size = Int(Self.uint32(scratch, 4))
            switch id {
            case "fmt ":
                guard format == nil else {
                    throw MediaFileError(.badHeader, "second fmt chunk", offset: chunkOffset)
                }
                guard (16...Self.maximumFormatChunk).contains(size) else {
                    throw MediaFileError(.badHeader, "fmt chunk of \(size) bytes (expected 16 to \(Self.maximumFormatChunk))", offset: chunkOffset)
                }
                guard try file.readExactly(size, into: &scratch) == size else {
                    throw MediaFileError(.truncated, "file ends inside the fmt chunk", offset: chunkOffset)
                }
                format = try Self.parseFormat(Array(scratch[0..<size]), at: chunkOffset)
                if size % 2 == 1 { _ = try file.skip(1) }
            case "data":
                guard let format else {
                    throw MediaFileError(.badHeader, "data chunk before the fmt chunk", offset: chunkOffset)
                }
                self.format = format
                dataOffset = file.offset
                if size == 0xFFFF_FFFF {
                    frameCount = nil
                    remainingBytes = nil
                } else {
                    guard size % format.bytesPerFrame == 0 else {
                        throw MediaFileError(.badHeader, "data chunk of \(size) bytes is not a whole number of \(format.bytesPerFrame)-byte frames", offset: chunkOffset)
                    }
                    frameCount = size / format.bytesPerFrame
                    remainingBytes = size
                }
                return
            default:
                let padded = size + size % 2
                guard try file.skip(padded) == padded else {
                    throw MediaFileError(.truncated, "file ends inside the \(Self.printable(scratch[0..<4])) chunk of \(size) bytes", offset: chunkOffset)
                }
            }
        }
    }

    /// Reads up to `maximumFrames` frames and returns their samples interleaved (channel 0 of
    /// frame 0, channel 1 of frame 0, …) as floats nominally in -1...1; empty at the end.
    ///
    /// - Throws: ``MediaFileError`` when the file ends inside the declared data or inside a
    ///   frame; every complete frame before that point has been returned by earlier calls.
    public func read(maximumFrames: Int) throws(MediaFileError) -> [Float] {
        var samples: [Float] = []
        try read(maximumFrames: maximumFrames, into: &samples)
        return samples
    }

    /// Like ``read(maximumFrames:)``, reusing `samples` (which it replaces) to avoid allocating.
    /// Returns the number of frames read; 0 at the end.
    @discardableResult
    public func read(maximumFrames: Int, into samples: inout [Float]) throws(MediaFileError) -> Int {
        samples.removeAll(keepingCapacity: true)
        let frames = try readBlock(maximumFrames: maximumFrames)
        bytes.withUnsafeBytes { raw in
            WAVSampleCoding.decode(raw, count: frames * format.channelCount, format: format.sampleFormat, appendingTo: &samples)
        }
        return frames
    }

    /// Appends up to `maximumFrames` frames of a 16-bit file to `samples` as they are stored,
    /// without converting to float; returns the number of frames read, 0 at the end.
    ///
    /// - Precondition: `format.sampleFormat` is ``WAVSampleFormat/signed16``.
    /// - Throws: ``MediaFileError`` as ``read(maximumFrames:into:)`` does.
    @discardableResult
    public func read(maximumFrames: Int, appendingTo samples: inout [Int16]) throws(MediaFileError) -> Int {
        precondition(format.sampleFormat == .signed16, "read(maximumFrames:appendingTo:) reads 16-bit files only")
        let frames = try readBlock(maximumFrames: maximumFrames)
        let count = frames * format.channelCount
        bytes.withUnsafeBytes { raw in
            samples.reserveCapacity(samples.count + count)
            for index in 0..<count { samples.append(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: index * 2, as: Int16.self))) }
        }
        return frames
    }

    /// Reads the bytes of up to `maximumFrames` whole frames into `bytes`; returns the frame count.
    private func readBlock(maximumFrames: Int) throws(MediaFileError) -> Int {
        let bytesPerFrame = format.bytesPerFrame
        var wanted = max(0, maximumFrames) * bytesPerFrame
        if let remainingBytes { wanted = min(wanted, remainingBytes) }
        guard wanted > 0 else { return 0 }
        let blockOffset = file.offset
        let got = try file.readExactly(wanted, into: &bytes)
        let frames = got / bytesPerFrame
        if got < wanted {
            if let remainingBytes {
                throw MediaFileError(.truncated, "file ends inside the data chunk: \(remainingBytes - got) of its bytes are missing", offset: blockOffset + got)
            }
            if got % bytesPerFrame != 0 {
                throw MediaFileError(.truncated, "file ends inside a frame of \(bytesPerFrame) bytes", offset: blockOffset + frames * bytesPerFrame)
            }
        }
        if remainingBytes != nil { remainingBytes! -= got }
        return frames
    }

    private static func parseFormat(_ chunk: [UInt8], at offset: Int) throws(MediaFileError) -> WAVFormat {
        var tag = Int(uint16(chunk, 0))
        let channels = Int(uint16(chunk, 2))
        let sampleRate = Int(uint32(chunk, 4))
        let blockAlign = Int(uint16(chunk, 12))
        let bits = Int(uint16(chunk, 14))
        if tag == 0xFFFE {
            guard chunk.count >= 40 else {
                throw MediaFileError(.badHeader, "WAVE_FORMAT_EXTENSIBLE fmt chunk of \(chunk.count) bytes (expected 40)", offset: offset)
            }
            guard Array(chunk[26..<40]) == subformatTail else {
                throw MediaFileError(.unsupported, "WAVE_FORMAT_EXTENSIBLE subformat is not PCM or IEEE float", offset: offset + 8 + 24)
            }
            tag = Int(uint16(chunk, 24))
        }
        guard tag == 1 || tag == 3 else {
            throw MediaFileError(.unsupported, "format tag 0x\(String(tag, radix: 16, uppercase: true)) is not supported (only PCM and IEEE float)", offset: offset + 8)
        }
        guard let sampleFormat = WAVSampleFormat(bits: bits, isFloat: tag == 3) else {
            throw MediaFileError(.unsupported, "\(bits)-bit \(tag == 3 ? "float" : "PCM") samples are not supported", offset: offset + 8 + 14)
        }
        guard (1...64).contains(channels) else {
            throw MediaFileError(.badHeader, "\(channels) channels (expected 1 to 64)", offset: offset + 8 + 2)
        }
        guard (1...1_000_000).contains(sampleRate) else {
            throw MediaFileError(.badHeader, "sample rate \(sampleRate) Hz (expected 1 to 1000000)", offset: offset + 8 + 4)
        }
        let format = WAVFormat(sampleRate: sampleRate, channelCount: channels, sampleFormat: sampleFormat)
        guard blockAlign == format.bytesPerFrame else {
            throw MediaFileError(.badHeader, "block align \(blockAlign) does not match \(channels) × \(sampleFormat) (\(format.bytesPerFrame) bytes)", offset: offset + 8 + 12)
        }
        return format
    }

    private static func uint16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    private static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    /// A chunk id as text for a message, with non-printable bytes escaped.
    private static func printable(_ bytes: ArraySlice<UInt8>) -> String {
        "\"" + bytes.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined() + "\""
    }
}
