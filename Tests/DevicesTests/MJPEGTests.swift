import CTurboJPEG
import Devices
import Testing

/// A synthetic 320x240 picture (gradients and a patch of skin tone) and its JPEG, made with
/// libturbojpeg's compressor as a camera would (4:2:2, quality 85).
enum JPEGFixture {
    static let width = 320, height = 240
    static let rgb: [UInt8] = (0..<(width * height)).flatMap { index -> [UInt8] in
        let x = index % width, y = index / width
        if (100..<220).contains(x) && (60..<180).contains(y) { return [224, 172, 150] }
        return [UInt8(x * 255 / width), UInt8(y * 255 / height), 128]
    }

    static func jpeg(quality: Int32 = 85) -> [UInt8] {
        let handle = tjInitCompress()!
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = rgb.withUnsafeBufferPointer {
            tjCompress2(handle, $0.baseAddress, Int32(width), Int32(width * 3), Int32(height), Int32(TJPF_RGB.rawValue), &output, &size, Int32(TJSAMP_422.rawValue), quality, 0)
        }
        precondition(status == 0)
        defer { tjFree(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }
}

@Suite struct MJPEGDecoderTests {
    @Test func aCameraFrameDecodesToThePictureItWasMadeFrom() throws {
        let decoder = try MJPEGDecoder()
        var decoded: [UInt8] = []
        try JPEGFixture.jpeg().withUnsafeBytes { try decoder.decode($0, width: JPEGFixture.width, height: JPEGFixture.height, into: &decoded) }
        #expect(decoded.count == JPEGFixture.rgb.count)
        let error = zip(decoded, JPEGFixture.rgb).map { abs(Int($0) - Int($1)) }.reduce(0, +)
        #expect(Double(error) / Double(decoded.count) < 3, "mean error \(Double(error) / Double(decoded.count)) levels")
        // The skin patch keeps its colour (what the vitals engine measures).
        let centre = (120 * JPEGFixture.width + 160) * 3
        #expect(abs(Int(decoded[centre]) - 224) <= 3 && abs(Int(decoded[centre + 1]) - 172) <= 3)
    }

    @Test func damagedOrWrongSizedFramesAreErrorsNotCrashes() throws {
        let decoder = try MJPEGDecoder()
        var decoded: [UInt8] = []
        var jpeg = JPEGFixture.jpeg()
        #expect(throws: DeviceError.self) {
            try jpeg.withUnsafeBytes { try decoder.decode($0, width: 640, height: 480, into: &decoded) }
        }
        #expect(throws: DeviceError.self) {
            try [UInt8](repeating: 0x55, count: 5000).withUnsafeBytes { try decoder.decode($0, width: 320, height: 240, into: &decoded) }
        }
        #expect(throws: DeviceError.self) {
            try [UInt8]().withUnsafeBytes { try decoder.decode($0, width: 320, height: 240, into: &decoded) }
        }
        // Truncated in the middle of the scan, as a USB glitch leaves it.
        jpeg.removeLast(jpeg.count / 2)
        #expect(throws: DeviceError.self) {
            try jpeg.withUnsafeBytes { try decoder.decode($0, width: 320, height: 240, into: &decoded) }
        }
        // Data lost inside the scan (a USB packet dropped), the end marker still there: libjpeg
        // decodes past it, the rest of the picture grey; not a frame to measure.
        var holed = JPEGFixture.jpeg()
        holed.removeSubrange(holed.count / 2..<(holed.count / 2 + 600))
        #expect(throws: DeviceError.self) {
            try holed.withUnsafeBytes { try decoder.decode($0, width: 320, height: 240, into: &decoded) }
        }
        // And the decoder still works afterwards.
        try JPEGFixture.jpeg().withUnsafeBytes { try decoder.decode($0, width: 320, height: 240, into: &decoded) }
    }

    @Test func strayBytesBeforeTheEndMarkerAreWhatManyWebcamsSendAndTheFrameIsKept() throws {
        // libjpeg warns "Corrupt JPEG data: 3 extraneous bytes before marker 0xd9", and the
        // picture is whole: a camera that sends every frame so must not lose every frame.
        var jpeg = JPEGFixture.jpeg()
        #expect(jpeg.suffix(2) == [0xFF, 0xD9])
        jpeg.insert(contentsOf: [0x00, 0x11, 0x22], at: jpeg.count - 2)
        let decoder = try MJPEGDecoder()
        var decoded: [UInt8] = [], clean: [UInt8] = []
        try jpeg.withUnsafeBytes { try decoder.decode($0, width: JPEGFixture.width, height: JPEGFixture.height, into: &decoded) }
        try JPEGFixture.jpeg().withUnsafeBytes { try decoder.decode($0, width: JPEGFixture.width, height: JPEGFixture.height, into: &clean) }
        #expect(decoded == clean)
    }
}
