#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Writes a RIFF/WAVE file block by block.
///
/// Integer formats wider than 16 bits and more than two channels are written with a
/// `WAVE_FORMAT_EXTENSIBLE` header, as the format requires; the rest with a plain one. The
/// chunk sizes are filled in by ``close()``. Not thread-safe: use from one task at a time.
public final class WAVWriter {
    /// The layout of the samples written.
    public let format: WAVFormat
    private var file: UnsafeMutablePointer<FILE>?
    private let path: String
    private var dataBytes = 0
    private var bytes: [UInt8] = []

    /// Largest data chunk a RIFF size field can describe.
    private static let maximumDataBytes = Int(UInt32.max) - 80

    /// Creates (or truncates) `path` and writes a header for `format`.
    ///
    /// - Throws: ``MediaFileError`` when the file cannot be created or the format is invalid.
    public init(path: String, format: WAVFormat) throws(MediaFileError) {
        guard format.channelCount >= 1, format.channelCount <= 64, format.sampleRate >= 1 else {
            throw MediaFileError(.unsupported, "cannot write \(format)")
        }
        self.format = format
        self.path = path
        guard let file = fopen(path, "wb") else {
            throw MediaFileError(.io, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        let header = Self.header(format: format, dataBytes: 0)
        try write(header)
    }

    deinit { if let file { fclose(file) } }

    /// Appends frames given as interleaved samples in -1...1 (integer formats clip outside).
    ///
    /// - Throws: ``MediaFileError`` for a partial frame, a file over 4 GiB or a failed write.
    public func write(interleaved samples: [Float]) throws(MediaFileError) {
        guard samples.count % format.channelCount == 0 else {
            throw MediaFileError(.badFrame, "\(samples.count) samples are not whole frames of \(format.channelCount) channels")
        }
        bytes.removeAll(keepingCapacity: true)
        WAVSampleCoding.encode(samples, format: format.sampleFormat, appendingTo: &bytes)
        guard dataBytes + bytes.count <= Self.maximumDataBytes else {
            throw MediaFileError(.unsupported, "\(path) would exceed the 4 GiB a WAV file can describe")
        }
        try write(bytes)
        dataBytes += bytes.count
    }

    /// Writes the final chunk sizes, flushes and closes the file.
    ///
    /// - Throws: ``MediaFileError`` when the data cannot be written out (a full disk).
    public func close() throws(MediaFileError) {
        guard let file else { return }
        if dataBytes % 2 == 1 { try write([0]) }
        let header = Self.header(format: format, dataBytes: dataBytes)
        guard fseek(file, 0, SEEK_SET) == 0 else { throw ioError() }
        try write(header)
        self.file = nil
        guard fclose(file) == 0 else { throw ioError() }
    }

    private static func header(format: WAVFormat, dataBytes: Int) -> [UInt8] {
        var out: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        let bits = format.sampleFormat.bytesPerSample * 8
        let extensible = format.channelCount > 2 || (!format.sampleFormat.isFloat && bits > 16)
        let tag: UInt16 = format.sampleFormat.isFloat ? 3 : 1
        let formatChunkSize = extensible ? 40 : 16
        let riffSize = 4 + (8 + formatChunkSize) + (8 + dataBytes + dataBytes % 2)
        out += Array("RIFF".utf8); append(UInt32(riffSize)); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); append(UInt32(formatChunkSize))
        append(extensible ? UInt16(0xFFFE) : tag)
        append(UInt16(format.channelCount))
        append(UInt32(format.sampleRate))
        append(UInt32(format.sampleRate * format.bytesPerFrame))
        append(UInt16(format.bytesPerFrame))
        append(UInt16(bits))
        if extensible {
            append(UInt16(22))
            append(UInt16(bits))
            append(UInt32(0))  // no speaker positions assigned
            append(tag)
            out += [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        }
        out += Array("data".utf8); append(UInt32(dataBytes))
        return out
    }

    private func write(_ bytes: [UInt8]) throws(MediaFileError) {
        guard let file else { throw MediaFileError(.io, "\(path) is closed") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count else { throw ioError() }
    }

    private func ioError() -> MediaFileError {
        MediaFileError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
    }
}
