/// Encodes an RGB image into any ``PixelFormat``: how tests and the simulator make frames.
public enum FrameEncoder {
    /// Encodes `rgb` (packed R, G, B bytes, `width × height × 3`) as a tightly packed frame.
    ///
    /// Chroma of subsampled formats is the mean of the pixels that share it.
    ///
    /// - Precondition: the size suits the format (see ``FrameGeometry/validate()``).
    public static func encode(rgb: [UInt8], width: Int, height: Int, as format: PixelFormat, range: ColourRange) -> [UInt8] {
        let geometry = FrameGeometry(width: width, height: height, format: format)
        precondition((try? geometry.validate()) != nil, "invalid geometry \(width)x\(height) \(format)")
        precondition(rgb.count >= width * height * 3, "RGB image too small")
        var out = [UInt8](repeating: 0, count: geometry.frameSize)
        func pixel(_ x: Int, _ y: Int) -> SIMD3<Float> {
            let i = (y * width + x) * 3
            return SIMD3(Float(rgb[i]), Float(rgb[i + 1]), Float(rgb[i + 2]))
        }
        func code(_ v: Float) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
        switch format {
        case .rgb24:
            for i in 0..<(width * height * 3) { out[i] = rgb[i] }
        case .bgr24:
            for p in 0..<(width * height) {
                out[3 * p] = rgb[3 * p + 2]
                out[3 * p + 1] = rgb[3 * p + 1]
                out[3 * p + 2] = rgb[3 * p]
            }
        case .grey:
            for y in 0..<height {
                for x in 0..<width { out[y * width + x] = code(ColourConversion.yCbCr(fromRGB: pixel(x, y), range: range).x) }
            }
        case .yuyv, .uyvy:
            let lumaFirst = format == .yuyv
            for y in 0..<height {
                for x in stride(from: 0, to: width, by: 2) {
                    let a = ColourConversion.yCbCr(fromRGB: pixel(x, y), range: range)
                    let b = ColourConversion.yCbCr(fromRGB: pixel(x + 1, y), range: range)
                    let o = (y * width + x) * 2
                    let l = lumaFirst ? 0 : 1, c = lumaFirst ? 1 : 0
                    out[o + l] = code(a.x)
                    out[o + l + 2] = code(b.x)
                    out[o + c] = code((a.y + b.y) / 2)
                    out[o + c + 2] = code((a.z + b.z) / 2)
                }
            }
        case .nv12, .i420, .i422, .i444:
            let (sx, sy) = format == .i444 ? (1, 1) : (2, format == .i422 ? 1 : 2)
            let cw = width / sx, ch = height / sy
            var cb = [Float](repeating: 0, count: cw * ch), cr = cb
            for y in 0..<height {
                for x in 0..<width {
                    let c = ColourConversion.yCbCr(fromRGB: pixel(x, y), range: range)
                    out[y * width + x] = code(c.x)
                    let ci = (y / sy) * cw + x / sx
                    cb[ci] += c.y
                    cr[ci] += c.z
                }
            }
            let share = Float(sx * sy)
            let planeStart = width * height
            for i in 0..<(cw * ch) {
                if format == .nv12 {
                    out[planeStart + 2 * i] = code(cb[i] / share)
                    out[planeStart + 2 * i + 1] = code(cr[i] / share)
                } else {
                    out[planeStart + i] = code(cb[i] / share)
                    out[planeStart + cw * ch + i] = code(cr[i] / share)
                }
            }
        default:
            preconditionFailure("unsupported format \(format)")
        }
        return out
    }
}
