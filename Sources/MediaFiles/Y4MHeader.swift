/// Chroma layout of a YUV4MPEG2 stream (its `C` parameter). All are 8-bit.
public enum Y4MColourSpace: String, Sendable, Hashable, CaseIterable {
    /// 4:2:0, chroma centred between luma samples (JPEG/MPEG-1 siting). The default.
    case c420jpeg = "420jpeg"
    /// 4:2:0, PAL-DV siting.
    case c420paldv = "420paldv"
    /// 4:2:0, MPEG-2 siting.
    case c420mpeg2 = "420mpeg2"
    /// 4:2:0, siting unspecified.
    case c420 = "420"
    /// 4:2:2.
    case c422 = "422"
    /// 4:4:4.
    case c444 = "444"
    /// Luma only.
    case mono

    /// Chroma subsampling: (horizontal, vertical) divisors; `nil` for ``mono``.
    public var subsampling: (Int, Int)? {
        switch self {
        case .c420jpeg, .c420paldv, .c420mpeg2, .c420: (2, 2)
        case .c422: (2, 1)
        case .c444: (1, 1)
        case .mono: nil
        }
    }
}

/// The stream header of a YUV4MPEG2 (`.y4m`) file.
public struct Y4MHeader: Sendable, Hashable {
    /// Frame width in pixels.
    public var width: Int
    /// Frame height in pixels.
    public var height: Int
    /// Frame rate as numerator and denominator (frames per second = num / den).
    public var frameRate: (numerator: Int, denominator: Int) {
        get { (rate.x, rate.y) }
        set { rate = SIMD2(newValue.numerator, newValue.denominator) }
    }
    private var rate: SIMD2<Int>
    /// Chroma layout.
    public var colourSpace: Y4MColourSpace
    /// Whether samples use the full 0–255 range (`XCOLORRANGE=FULL`); limited (BT.601 video
    /// range) when the parameter is absent.
    public var fullRange: Bool
    /// Interlacing (`I` parameter) as written, `p` (progressive) by default.
    public var interlacing: Character
    /// Pixel aspect ratio (`A` parameter) as written, e.g. `1:1`; `nil` when absent.
    public var pixelAspect: String?

    /// A header for a progressive stream.
    public init(width: Int, height: Int, frameRate: (Int, Int), colourSpace: Y4MColourSpace = .c420jpeg, fullRange: Bool = false) {
        self.width = width
        self.height = height
        self.rate = SIMD2(frameRate.0, frameRate.1)
        self.colourSpace = colourSpace
        self.fullRange = fullRange
        self.interlacing = "p"
        self.pixelAspect = "1:1"
    }

    /// Frames per second.
    public var framesPerSecond: Double { Double(rate.x) / Double(rate.y) }

    /// Bytes of luma.
    public var lumaSize: Int { width * height }

    /// Bytes of one chroma plane (0 for mono).
    public var chromaPlaneSize: Int {
        guard let (h, v) = colourSpace.subsampling else { return 0 }
        return ((width + h - 1) / h) * ((height + v - 1) / v)
    }

    /// Bytes of one frame's pixels (planes Y, Cb, Cr in that order).
    public var frameSize: Int { lumaSize + 2 * chromaPlaneSize }

    /// The header line, without the final newline.
    public var line: String {
        var parts = ["YUV4MPEG2", "W\(width)", "H\(height)", "F\(rate.x):\(rate.y)", "I\(interlacing)"]
        if let pixelAspect { parts.append("A\(pixelAspect)") }
        parts.append("C\(colourSpace.rawValue)")
        parts.append("XCOLORRANGE=\(fullRange ? "FULL" : "LIMITED")")
        return parts.joined(separator: " ")
    }

    /// The largest width or height accepted.
    public static let maximumDimension = 16384

    /// Parses a header line (without its newline).
    ///
    /// - Throws: ``MediaFileError`` with ``MediaFileError/Code/badHeader`` or
    ///   ``MediaFileError/Code/unsupported``, naming the parameter.
    public init(parsing bytes: [UInt8]) throws(MediaFileError) {
        let magic = Array("YUV4MPEG2".utf8)
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw MediaFileError(.badHeader, "not a YUV4MPEG2 file (missing 'YUV4MPEG2' signature)", offset: 0)
        }
        var width: Int?, height: Int?, rate: SIMD2<Int>?
        var colourSpace = Y4MColourSpace.c420jpeg
        var fullRange = false
        var interlacing: Character = "p"
        var aspect: String?
        var position = magic.count
        for token in bytes[magic.count...].split(separator: 0x20, omittingEmptySubsequences: false).dropFirst() {
            let tokenOffset = position + 1
            position += token.count + 1
            guard let key = token.first else {
                throw MediaFileError(.badHeader, "empty header parameter (double space)", offset: tokenOffset)
            }
            guard let value = String(validating: token.dropFirst(), as: UTF8.self) else {
                throw MediaFileError(.badHeader, "header parameter is not text", offset: tokenOffset)
            }
            func number(_ name: String) throws(MediaFileError) -> Int {
                guard let n = Int(value), n > 0, n <= Self.maximumDimension else {
                    throw MediaFileError(.badHeader, "\(name) must be 1…\(Self.maximumDimension), got '\(value)'", offset: tokenOffset)
                }
                return n
            }
            switch key {
            case UInt8(ascii: "W"): width = try number("width (W)")
            case UInt8(ascii: "H"): height = try number("height (H)")
            case UInt8(ascii: "F"):
                let parts = value.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, let n = Int(parts[0]), let d = Int(parts[1]), n > 0, d > 0, n <= 1_000_000, d <= 1_000_000
                else {
                    throw MediaFileError(.badHeader, "frame rate (F) must be N:D with positive integers, got '\(value)'", offset: tokenOffset)
                }
                rate = SIMD2(n, d)
            case UInt8(ascii: "C"):
                guard let space = Y4MColourSpace(rawValue: value) else {
                    throw MediaFileError(
                        .unsupported,
                        "colour space C\(value) is not supported (supported: \(Y4MColourSpace.allCases.map { "C" + $0.rawValue }.joined(separator: ", ")))",
                        offset: tokenOffset
                    )
                }
                colourSpace = space
            case UInt8(ascii: "I"):
                guard value.count == 1, let mode = value.first, "ptbm?".contains(mode) else {
                    throw MediaFileError(.badHeader, "interlacing (I) must be one of p, t, b, m, got '\(value)'", offset: tokenOffset)
                }
                interlacing = mode
            case UInt8(ascii: "A"):
                aspect = value
            case UInt8(ascii: "X"):
                if value.hasPrefix("COLORRANGE=") {
                    switch value.dropFirst("COLORRANGE=".count) {
                    case "FULL": fullRange = true
                    case "LIMITED": fullRange = false
                    default:
                        throw MediaFileError(.badHeader, "XCOLORRANGE must be LIMITED or FULL, got '\(value)'", offset: tokenOffset)
                    }
                }
            default:
                throw MediaFileError(.badHeader, "unknown header parameter '\(Character(UnicodeScalar(key)))'", offset: tokenOffset)
            }
        }
        guard let width else { throw MediaFileError(.badHeader, "header has no width (W)", offset: 0) }
        guard let height else { throw MediaFileError(.badHeader, "header has no height (H)", offset: 0) }
        guard let rate else { throw MediaFileError(.badHeader, "header has no frame rate (F)", offset: 0) }
        self.width = width
        self.height = height
        self.rate = rate
        self.colourSpace = colourSpace
        self.fullRange = fullRange
        self.interlacing = interlacing
        self.pixelAspect = aspect
    }

    public static func == (a: Self, b: Self) -> Bool { a.line == b.line }
    public func hash(into hasher: inout Hasher) { hasher.combine(line) }
}
