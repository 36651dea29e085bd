#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A buffered, forward-only reader over a file descriptor, or over bytes already in memory
/// (an upload), that knows its byte offset.
///
/// Not thread-safe: owned by one reader at a time.
final class FileReader {
    /// Where the bytes come from.
    private enum Source {
        case descriptor(Int32)
        /// The bytes and how many of them have been handed out.
        case memory([UInt8], position: Int)
    }

    private var source: Source
    private var buffer: [UInt8]
    private var start = 0, end = 0
    /// Bytes consumed so far.
    private(set) var offset = 0
    let path: String

    init(path: String, bufferSize: Int = 1 << 16) throws(MediaFileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw MediaFileError(.io, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        source = .descriptor(fd)
        buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    /// A reader over `bytes`, called `name` in errors.
    init(bytes: [UInt8], name: String) {
        path = name
        source = .memory(bytes, position: 0)
        buffer = [UInt8](repeating: 0, count: 1 << 12)
    }

    deinit {
        if case .descriptor(let fd) = source { close(fd) }
    }

    /// Refills the buffer; returns false at end of file.
    private func fill() throws(MediaFileError) -> Bool {
        if start == end { start = 0; end = 0 }
        if start > 0 {
            buffer.withUnsafeMutableBufferPointer { b in
                _ = memmove(b.baseAddress!, b.baseAddress! + start, end - start)
            }
            end -= start
            start = 0
        }
        let got = try readSome(into: &buffer, at: end, count: buffer.count - end)
        end += got
        return got > 0
    }

    private func readSome(into target: inout [UInt8], at index: Int, count: Int) throws(MediaFileError) -> Int {
        guard case .descriptor(let descriptor) = source else {
            guard case .memory(let bytes, let position) = source else { return 0 }
            let n = min(count, bytes.count - position)
            target.withUnsafeMutableBytes { t in
                bytes.withUnsafeBytes { b in _ = memcpy(t.baseAddress! + index, b.baseAddress! + position, n) }
            }
            source = .memory(bytes, position: position + n)
            return n
        }
        while true {
            let n = target.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + index, count) }
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw MediaFileError(.io, "cannot read \(path): \(String(cString: strerror(errno)))", offset: offset)
        }
    }

    /// Reads bytes up to and including `delimiter`, at most `limit` bytes; returns them without
    /// the delimiter, or `nil` at a clean end of file.
    func readLine(delimiter: UInt8 = 0x0A, limit: Int) throws(MediaFileError) -> [UInt8]? {
        var line: [UInt8] = []
        let lineStart = offset
        while true {
            if start == end, try !fill() {
                if line.isEmpty { return nil }
                throw MediaFileError(.truncated, "file ends inside a header line", offset: lineStart)
            }
            while start < end {
                let byte = buffer[start]
                start += 1
                offset += 1
                if byte == delimiter { return line }
                line.append(byte)
                if line.count > limit {
                    throw MediaFileError(.badHeader, "header line longer than \(limit) bytes", offset: lineStart)
                }
            }
        }
    }

    /// Reads exactly `count` bytes into `target` from index 0; returns how many it got (fewer
    /// only at end of file).
    func readExactly(_ count: Int, into target: inout [UInt8]) throws(MediaFileError) -> Int {
        if target.count < count { target = [UInt8](repeating: 0, count: count) }
        var got = 0
        let buffered = min(count, end - start)
        if buffered > 0 {
            target.withUnsafeMutableBytes { t in
                buffer.withUnsafeBytes { b in _ = memcpy(t.baseAddress!, b.baseAddress! + start, buffered) }
            }
            start += buffered
            got = buffered
        }
        while got < count {
            let n = try readSome(into: &target, at: got, count: count - got)
            if n == 0 { break }
            got += n
        }
        offset += got
        return got
    }

    /// Skips `count` bytes; returns how many it skipped (fewer only at end of file).
    func skip(_ count: Int) throws(MediaFileError) -> Int {
        var scratch = [UInt8](repeating: 0, count: min(count, 1 << 16))
        var skipped = 0
        while skipped < count {
            let wanted = min(count - skipped, scratch.count)
            let got = try readExactly(wanted, into: &scratch)
            skipped += got
            if got < wanted { break }
        }
        return skipped
    }
}
