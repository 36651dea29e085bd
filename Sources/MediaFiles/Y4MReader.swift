/// Reads a YUV4MPEG2 (`.y4m`) file one frame at a time.
///
/// Only the current frame is in memory, so files of any length stream in constant space.
/// Every problem is a ``MediaFileError`` naming it and its byte offset: a bad header, an
/// unsupported colour space, a frame marker out of place (a frame of the wrong size), or a
/// file that ends inside a frame.
///
/// ```swift
/// let reader = try Y4MReader(path: "patient.y4m")
/// var frame: [UInt8] = []
/// while try reader.readFrame(into: &frame) { analyse(frame) }
/// ```
///
/// Not thread-safe: use from one task at a time.
public final class Y4MReader {
    /// The stream header.
    public let header: Y4MHeader
    /// Frames read so far.
    public private(set) var framesRead = 0
    private let file: FileReader
    private static let headerLimit = 4096

    /// Opens `path` and parses its header.
    ///
    /// - Throws: ``MediaFileError`` when the file cannot be opened or its header is invalid.
    public init(path: String) throws(MediaFileError) {
        file = try FileReader(path: path)
        guard let line = try file.readLine(limit: Self.headerLimit) else {
            throw MediaFileError(.truncated, "file is empty", offset: 0)
        }
        header = try Y4MHeader(parsing: line)
    }

    /// Reads the next frame's planes (Y, then Cb and Cr unless mono) into `frame`, resizing it
    /// to ``Y4MHeader/frameSize``.
    ///
    /// - Returns: `false` at a clean end of file.
    /// - Throws: ``MediaFileError`` for a malformed or truncated frame.
    public func readFrame(into frame: inout [UInt8]) throws(MediaFileError) -> Bool {
        let markerOffset = file.offset
        guard let line = try file.readLine(limit: Self.headerLimit) else { return false }
        let marker = Array("FRAME".utf8)
        guard line.count >= marker.count, Array(line[0..<marker.count]) == marker,
            line.count == marker.count || line[marker.count] == 0x20
        else {
            throw MediaFileError(
                .badFrame,
                "expected 'FRAME' marker of frame \(framesRead) (is the previous frame the wrong size?)",
                offset: markerOffset
            )
        }
        let size = header.frameSize
        if frame.count != size { frame = [UInt8](repeating: 0, count: size) }
        let dataOffset = file.offset
        let got = try file.readExactly(size, into: &frame)
        guard got == size else {
            throw MediaFileError(
                .truncated,
                "frame \(framesRead) is truncated: \(got) of \(size) bytes",
                offset: dataOffset + got
            )
        }
        framesRead += 1
        return true
    }
}
