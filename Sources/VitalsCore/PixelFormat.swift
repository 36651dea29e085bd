/// The memory layout of one video frame's pixels.
///
/// Packed 4:2:2 formats (``yuyv``, ``uyvy``) carry one chroma pair per two pixels; planar
/// formats (``i420``, ``i422``, ``i444``) store Y, Cb and Cr in consecutive planes; ``nv12``
/// stores a Y plane followed by one interleaved CbCr plane at half resolution.
public struct PixelFormat: Hashable, Sendable, CustomStringConvertible {
    private enum Base: String, Hashable, Sendable {
        case yuyv, uyvy, nv12, i420, i422, i444, rgb24, bgr24, grey
    }

    private let base: Base
    private init(_ base: Base) { self.base = base }

    /// Packed 4:2:2, bytes `Y0 Cb Y1 Cr` (V4L2 `YUYV`).
    public static let yuyv = Self(.yuyv)
    /// Packed 4:2:2, bytes `Cb Y0 Cr Y1` (V4L2 `UYVY`).
    public static let uyvy = Self(.uyvy)
    /// Semi-planar 4:2:0: Y plane, then interleaved `Cb Cr` at half width and height.
    public static let nv12 = Self(.nv12)
    /// Planar 4:2:0: Y, Cb and Cr planes, chroma at half width and height.
    public static let i420 = Self(.i420)
    /// Planar 4:2:2: chroma at half width, full height.
    public static let i422 = Self(.i422)
    /// Planar 4:4:4: chroma at full resolution.
    public static let i444 = Self(.i444)
    /// Packed `R G B`, one byte each.
    public static let rgb24 = Self(.rgb24)
    /// Packed `B G R`, one byte each.
    public static let bgr24 = Self(.bgr24)
    /// One luma byte per pixel, no colour.
    public static let grey = Self(.grey)

    /// Every supported format.
    public static let all: [PixelFormat] = [.yuyv, .uyvy, .nv12, .i420, .i422, .i444, .rgb24, .bgr24, .grey]

    /// The lower-case name of the format.
    public var description: String { base.rawValue }

    /// Whether pixels carry colour (every format but ``grey``).
    public var hasColour: Bool { self != .grey }
    /// Whether the format stores red, green and blue (not YCbCr).
    public var isRGB: Bool { self == .rgb24 || self == .bgr24 }

    /// The smallest width and height step the format allows (chroma subsampling).
    public var alignment: (width: Int, height: Int) {
        switch base {
        case .yuyv, .uyvy, .i422: (2, 1)
        case .nv12, .i420: (2, 2)
        case .i444, .rgb24, .bgr24, .grey: (1, 1)
        }
    }

    /// Bytes per pixel of the first plane.
    var firstPlaneBytesPerPixel: Int {
        switch base {
        case .yuyv, .uyvy: 2
        case .rgb24, .bgr24: 3
        case .nv12, .i420, .i422, .i444, .grey: 1
        }
    }
}

/// Whether 8-bit luma and chroma use the full 0–255 range (JPEG) or the limited
/// 16–235 / 16–240 range of broadcast video (BT.601).
public enum ColourRange: String, Sendable, Hashable, CaseIterable {
    case limited
    case full
}

/// Size, format and row stride of a frame; the byte layout follows from them.
public struct FrameGeometry: Hashable, Sendable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// The pixel layout.
    public var format: PixelFormat
    /// Bytes from one row of the first plane to the next (V4L2 `bytesperline`).
    /// Chroma planes of planar formats use half of it where they are half width.
    public var bytesPerLine: Int

    /// Describes a frame.
    ///
    /// - Parameter bytesPerLine: the first plane's row stride; `nil` means tightly packed.
    public init(width: Int, height: Int, format: PixelFormat, bytesPerLine: Int? = nil) {
        self.width = width
        self.height = height
        self.format = format
        self.bytesPerLine = bytesPerLine ?? width * format.firstPlaneBytesPerPixel
    }

    /// Row stride of the chroma plane(s).
    var chromaBytesPerLine: Int {
        switch format {
        case .nv12, .i444: bytesPerLine
        case .i420, .i422: bytesPerLine / 2
        default: 0
        }
    }

    /// Rows of the chroma plane(s).
    var chromaRows: Int {
        switch format {
        case .nv12, .i420: (height + 1) / 2
        case .i422, .i444: height
        default: 0
        }
    }

    /// Bytes of the first plane.
    var firstPlaneSize: Int { bytesPerLine * height }

    /// Total bytes of one frame.
    public var frameSize: Int {
        switch format {
        case .nv12: firstPlaneSize + chromaBytesPerLine * chromaRows
        case .i420, .i422, .i444: firstPlaneSize + 2 * chromaBytesPerLine * chromaRows
        default: firstPlaneSize
        }
    }

    /// Checks that the size suits the format and the stride holds a row.
    ///
    /// - Throws: ``FrameError`` naming what is wrong.
    public func validate() throws(FrameError) {
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw FrameError("frame size \(width)x\(height) is outside 1…16384")
        }
        let (aw, ah) = format.alignment
        guard width % aw == 0, height % ah == 0 else {
            throw FrameError("\(format) needs a width divisible by \(aw) and a height by \(ah), got \(width)x\(height)")
        }
        guard bytesPerLine >= width * format.firstPlaneBytesPerPixel else {
            throw FrameError("bytesPerLine \(bytesPerLine) is shorter than a row of \(width) \(format) pixels")
        }
    }
}

/// A frame that does not match its declared geometry.
public struct FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong, in words.
    public var description: String
    init(_ description: String) { self.description = description }
}
