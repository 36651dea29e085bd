import Foundation
import MediaFiles
import Testing

/// A fresh temporary directory per test.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "hh-media-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A valid Y4M file of `frames` frames with distinct, recognisable content.
func makeY4M(at path: String, header: Y4MHeader, frames: Int) throws -> [[UInt8]] {
    let writer = try Y4MWriter(path: path, header: header)
    var written: [[UInt8]] = []
    for f in 0..<frames {
        let frame = (0..<header.frameSize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ f &* 7) }
        try writer.write(frame: frame)
        written.append(frame)
    }
    try writer.close()
    return written
}

func readAll(_ path: String) throws -> [[UInt8]] {
    let reader = try Y4MReader(path: path)
    var frames: [[UInt8]] = []
    var frame: [UInt8] = []
    while try reader.readFrame(into: &frame) { frames.append(frame) }
    return frames
}

@Suite struct Y4MTests {
    @Test(arguments: Y4MColourSpace.allCases)
    func roundTripsEveryColourSpace(space: Y4MColourSpace) throws {
        let dir = try temporaryDirectory()
        let path = dir + "/a.y4m"
        let header = Y4MHeader(width: 34, height: 22, frameRate: (30000, 1001), colourSpace: space, fullRange: space == .c444)
        let written = try makeY4M(at: path, header: header, frames: 4)
        let reader = try Y4MReader(path: path)
        #expect(reader.header == header)
        #expect(reader.header.framesPerSecond > 29.96 && reader.header.framesPerSecond < 29.98)
        #expect(try readAll(path) == written)
    }

    @Test func parsesAHeaderWrittenByOtherTools() throws {
        // As ffmpeg writes it: interlacing, aspect, colour space and a vendor extension.
        let header = try Y4MHeader(parsing: Array("YUV4MPEG2 W640 H480 F25:1 Ip A1:1 C420mpeg2 XYSCSS=420MPEG2 XCOLORRANGE=FULL".utf8))
        #expect(header.width == 640 && header.height == 480)
        #expect(header.frameRate == (25, 1))
        #expect(header.colourSpace == .c420mpeg2)
        #expect(header.fullRange)
        // Absent XCOLORRANGE means limited (BT.601) range; absent C means 4:2:0.
        let plain = try Y4MHeader(parsing: Array("YUV4MPEG2 W2 H2 F30:1".utf8))
        #expect(!plain.fullRange)
        #expect(plain.colourSpace == .c420jpeg)
        #expect(plain.frameSize == 6)
    }

    @Test(arguments: [
        ("YUV4MPEG W2 H2 F30:1", "signature"),
        ("YUV4MPEG2 H2 F30:1", "no width"),
        ("YUV4MPEG2 W2 F30:1", "no height"),
        ("YUV4MPEG2 W2 H2", "no frame rate"),
        ("YUV4MPEG2 W0 H2 F30:1", "width"),
        ("YUV4MPEG2 W2 H99999 F30:1", "height"),
        ("YUV4MPEG2 W2 H2 F30:0", "frame rate"),
        ("YUV4MPEG2 W2 H2 Fx:1", "frame rate"),
        ("YUV4MPEG2 W2 H2 F30:1 C420p10", "not supported"),
        ("YUV4MPEG2 W2 H2 F30:1 XCOLORRANGE=SOMETIMES", "XCOLORRANGE"),
        ("YUV4MPEG2 W2 H2 F30:1 Q7", "unknown header parameter"),
        ("YUV4MPEG2 W2  H2 F30:1", "empty header parameter"),
    ])
    func badHeadersAreNamed(line: String, expected: String) throws {
        let dir = try temporaryDirectory()
        let path = dir + "/bad.y4m"
        try Data((line + "\nFRAME\n" + "abcdef").utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try readAll(path)
            Issue.record("accepted \(line)")
        } catch let error as MediaFileError {
            #expect(error.description.contains(expected), "\(error)")
            #expect(error.offset != nil)
        }
    }

    @Test func truncatedFrameNamesTheOffset() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/t.y4m"
        let header = Y4MHeader(width: 8, height: 4, frameRate: (30, 1))
        _ = try makeY4M(at: path, header: header, frames: 3)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 5).write(to: URL(fileURLWithPath: path))
        let reader = try Y4MReader(path: path)
        var frame: [UInt8] = []
        #expect(try reader.readFrame(into: &frame))
        #expect(try reader.readFrame(into: &frame))
        do {
            _ = try reader.readFrame(into: &frame)
            Issue.record("truncated frame accepted")
        } catch {
            #expect(error.code == .truncated)
            #expect(error.offset == data.count - 5)
            #expect(error.description.contains("frame 2 is truncated: 43 of 48 bytes"))
        }
    }

    @Test func frameOfTheWrongSizeIsCaughtAtTheNextMarker() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/w.y4m"
        let header = Y4MHeader(width: 4, height: 2, frameRate: (30, 1))
        let headerLine = header.line + "\n"
        // Frame 0 is 12 bytes as it should be; frame 1 carries 14 bytes.
        let body = "FRAME\n" + String(repeating: "a", count: 12) + "FRAME\n" + String(repeating: "b", count: 14) + "FRAME\n" + String(repeating: "c", count: 12)
        try Data((headerLine + body).utf8).write(to: URL(fileURLWithPath: path))
        let reader = try Y4MReader(path: path)
        var frame: [UInt8] = []
        #expect(try reader.readFrame(into: &frame))
        #expect(try reader.readFrame(into: &frame))
        #expect(throws: MediaFileError.self) { _ = try reader.readFrame(into: &frame) }
        do {
            _ = try reader.readFrame(into: &frame)
        } catch {
            // Reading continues where the last attempt left off; the first failure is what counts.
        }
        let again = try Y4MReader(path: path)
        _ = try again.readFrame(into: &frame)
        _ = try again.readFrame(into: &frame)
        do {
            _ = try again.readFrame(into: &frame)
        } catch {
            #expect(error.code == .badFrame)
            #expect(error.offset == headerLine.utf8.count + 6 + 12 + 6 + 12)
        }
    }

    @Test func missingAndEmptyFilesAreErrors() throws {
        let dir = try temporaryDirectory()
        #expect(throws: MediaFileError.self) { try Y4MReader(path: dir + "/nope.y4m") }
        FileManager.default.createFile(atPath: dir + "/empty.y4m", contents: Data())
        #expect(throws: MediaFileError.self) { try Y4MReader(path: dir + "/empty.y4m") }
    }

    @Test func writerRejectsAFrameOfTheWrongSize() throws {
        let dir = try temporaryDirectory()
        let writer = try Y4MWriter(path: dir + "/x.y4m", header: Y4MHeader(width: 4, height: 4, frameRate: (30, 1)))
        #expect(throws: MediaFileError.self) { try writer.write(frame: [1, 2, 3]) }
        try writer.close()
    }

    @Test func readsInConstantMemory() throws {
        // A reader holds one frame and a fixed buffer, whatever the file's length: reading a file
        // of many frames reuses the caller's frame buffer without growing it.
        let dir = try temporaryDirectory()
        let path = dir + "/long.y4m"
        let header = Y4MHeader(width: 64, height: 48, frameRate: (30, 1))
        _ = try makeY4M(at: path, header: header, frames: 500)
        let reader = try Y4MReader(path: path)
        var frame: [UInt8] = []
        var count = 0
        while try reader.readFrame(into: &frame) {
            #expect(frame.count == header.frameSize)
            count += 1
        }
        #expect(count == 500)
    }
}
