#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Writes a YUV4MPEG2 (`.y4m`) file frame by frame.
///
/// Not thread-safe: use from one task at a time. Call ``close()`` to flush; errors at close
/// (a full disk) are reported there.
public final class Y4MWriter {
    /// The stream header written first.
    public let header: Y4MHeader
    private var file: UnsafeMutablePointer<FILE>?
    private let path: String

    /// Creates (or truncates) `path` and writes the header.
    ///
    /// - Throws: ``MediaFileError`` when the file cannot be created.
    public init(path: String, header: Y4MHeader) throws(MediaFileError) {
        self.header = header
        self.path = path
        guard let file = fopen(path, "wb") else {
            throw MediaFileError(.io, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        try write(Array((header.line + "\n").utf8))
    }

    deinit { if let file { fclose(file) } }

    /// Appends one frame (planes Y, Cb, Cr of ``Y4MHeader/frameSize`` bytes).
    ///
    /// - Throws: ``MediaFileError`` for a frame of the wrong size or a failed write.
    public func write(frame: [UInt8]) throws(MediaFileError) {
        guard frame.count == header.frameSize else {
            throw MediaFileError(.badFrame, "frame has \(frame.count) bytes, the header needs \(header.frameSize)")
        }
        try write(Array("FRAME\n".utf8))
        try write(frame)
    }

    /// Flushes and closes the file.
    ///
    /// - Throws: ``MediaFileError`` when the data cannot be written out.
    public func close() throws(MediaFileError) {
        guard let file else { return }
        self.file = nil
        guard fclose(file) == 0 else {
            throw MediaFileError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    private func write(_ bytes: [UInt8]) throws(MediaFileError) {
        guard let file else { throw MediaFileError(.io, "\(path) is closed") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count else {
            throw MediaFileError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
