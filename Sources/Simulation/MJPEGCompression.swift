import CTurboJPEG
import Devices

/// A webcam's MJPEG stream: every frame compressed as a camera's encoder compresses it (baseline
/// JPEG, 4:2:0 chroma, the standard quantisation tables scaled to `quality`, by libjpeg-turbo)
/// and decoded as the kiosk decodes an MJPEG camera's frames (``MJPEGDecoder``). Each 8×8 block's
/// fine detail, the camera's noise among it, is quantised away and its mean kept to a step of
/// about one code value (at quality 75), so a pulse of a fraction of a code value rides on
/// block means that stick to their steps.
public struct MJPEGCompression: Sendable, Hashable {
    /// JPEG quality, 1…100 (libjpeg's scale: 50 is the standard tables, 75 libjpeg's default).
    public var quality: Int

    /// A kiosk webcam's MJPEG at libjpeg's default quality, typical of USB webcams' streams.
    public static let kioskWebcam = MJPEGCompression(quality: 75)

    /// Compression at `quality` (1…100).
    public init(quality: Int) {
        precondition((1...100).contains(quality), "JPEG quality is 1…100")
        self.quality = quality
    }

    /// `rgb` (packed, `width` × `height`) compressed and decoded again.
    public func roundTrip(rgb: [UInt8], width: Int, height: Int) -> [UInt8] {
        let jpeg = compress(rgb: rgb, width: width, height: height)
        let decoder: MJPEGDecoder
        do { decoder = try MJPEGDecoder() } catch { preconditionFailure("\(error)") }
        var decoded: [UInt8] = []
        do {
            try jpeg.withUnsafeBytes { try decoder.decode($0, width: width, height: height, into: &decoded) }
        } catch {
            preconditionFailure("libturbojpeg could not decode its own frame: \(error)")
        }
        return decoded
    }

    /// `rgb` (packed, `width` × `height`) as one JPEG frame.
    public func compress(rgb: [UInt8], width: Int, height: Int) -> [UInt8] {
        precondition(rgb.count == width * height * 3, "packed RGB of the frame's size")
        guard let handle = tjInitCompress() else { preconditionFailure("libturbojpeg: cannot create a compressor") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = rgb.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(width), Int32(width * 3), Int32(height), Int32(TJPF_RGB.rawValue),
                &buffer, &size, Int32(TJSAMP_420.rawValue), Int32(quality), 0)
        }
        defer { tjFree(buffer) }
        guard status == 0, let buffer else { preconditionFailure("libturbojpeg: \(String(cString: tjGetErrorStr2(handle)))") }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
