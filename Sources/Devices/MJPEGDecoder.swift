import CTurboJPEG

/// Decodes the JPEG frames of an MJPEG camera into RGB24 (libturbojpeg), for the sizes a
/// camera offers only as MJPEG.
public final class MJPEGDecoder {
    private let handle: tjhandle

    /// A decoder with its own libturbojpeg handle.
    public init() throws(DeviceError) {
        guard let handle = tjInitDecompress() else { throw .failed("libturbojpeg: cannot create a decompressor") }
        self.handle = handle
    }

    deinit { tjDestroy(handle) }

    /// Decodes `jpeg` into `rgb` (resized to `width` × `height` × 3).
    ///
    /// A frame whose only fault is stray bytes between the end of its picture and its end marker
    /// is decoded: many USB webcams send every frame so, and the picture is whole. Any other
    /// fault libjpeg-turbo reports, even one it decoded past (a frame cut short, data missing
    /// in the scan: the rest of the picture grey), is an error.
    ///
    /// - Throws: ``DeviceError/failed(_:)`` for data that is not a whole JPEG of that size.
    public func decode(_ jpeg: UnsafeRawBufferPointer, width: Int, height: Int, into rgb: inout [UInt8]) throws(DeviceError) {
        guard let base = jpeg.baseAddress?.assumingMemoryBound(to: UInt8.self), jpeg.count > 0 else {
            throw .failed("empty MJPEG frame")
        }
        var frameWidth: Int32 = 0, frameHeight: Int32 = 0, subsampling: Int32 = 0, colourspace: Int32 = 0
        guard tjDecompressHeader3(handle, base, UInt(jpeg.count), &frameWidth, &frameHeight, &subsampling, &colourspace) == 0 else {
            throw .failed("not a JPEG frame: \(message())")
        }
        guard Int(frameWidth) == width, Int(frameHeight) == height else {
            throw .failed("MJPEG frame is \(frameWidth)x\(frameHeight), expected \(width)x\(height)")
        }
        if rgb.count != width * height * 3 { rgb = [UInt8](repeating: 0, count: width * height * 3) }
        let status = rgb.withUnsafeMutableBufferPointer {
            tjDecompress2(handle, base, UInt(jpeg.count), $0.baseAddress, Int32(width), Int32(width * 3), Int32(height), Int32(TJPF_RGB.rawValue), TJFLAG_FASTDCT)
        }
        guard status == 0 || Self.isOnlyStrayBytesBeforeTheEnd(tjGetErrorCode(handle), message()) else {
            throw .failed("corrupt MJPEG frame: \(message())")
        }
    }

    /// Whether a decode's warning is libjpeg's "extraneous bytes before marker" at the end-of-image
    /// marker (`JWRN_EXTRANEOUS_DATA` at 0xd9): every block was decoded before it.
    private static func isOnlyStrayBytesBeforeTheEnd(_ code: Int32, _ message: String) -> Bool {
        code == Int32(TJERR_WARNING.rawValue) && message.hasPrefix("Corrupt JPEG data: ") && message.hasSuffix("extraneous bytes before marker 0xd9")
    }

    private func message() -> String { String(cString: tjGetErrorStr2(handle)) }
}
