/// BT.601 conversions between RGB and YCbCr, in full (JPEG) or limited (video) range.
public enum ColourConversion {
    /// Integer full-range RGB → YCbCr, as the skin classifier of RGB frames uses it.
    ///
    /// Weights are BT.601 in 1/256ths; the sums stay within 16 bits, so the SIMD and scalar
    /// versions agree exactly.
    @inline(__always)
    static func fullRangeYCbCr<V: SIMD>(r: V, g: V, b: V) -> (V, V, V) where V.Scalar == UInt16 {
        let y = (77 &* r &+ 150 &* g &+ 29 &* b &+ 128) &>> 8
        let cb = ((128 &* b &+ 32895) &- (43 &* r &+ 85 &* g)) &>> 8
        let cr = ((128 &* r &+ 32895) &- (107 &* g &+ 21 &* b)) &>> 8
        return (y, cb, cr)
    }

    /// The scalar form of ``fullRangeYCbCr(r:g:b:)`` for one pixel.
    @inline(__always)
    static func fullRangeYCbCr(r: Int, g: Int, b: Int) -> (Int, Int, Int) {
        let y = (77 * r + 150 * g + 29 * b + 128) >> 8
        let cb = ((128 * b + 32895) - (43 * r + 85 * g)) >> 8
        let cr = ((128 * r + 32895) - (107 * g + 21 * b)) >> 8
        return (y, cb, cr)
    }

    /// Converts a mean YCbCr colour (code values of `range`) to RGB on a 0–255 scale.
    ///
    /// The conversion is affine, so the mean of many pixels converts exactly; values are not
    /// clipped, which keeps the small pulse variations of a nearly saturated region intact.
    public static func rgb(fromYCbCr c: SIMD3<Double>, range: ColourRange) -> SIMD3<Double> {
        var luma = c.x, cb = c.y - 128, cr = c.z - 128
        if range == .limited {
            luma = (luma - 16) * 255 / 219
            cb *= 255.0 / 224.0
            cr *= 255.0 / 224.0
        }
        return SIMD3(luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb)
    }

    /// Converts RGB (0–255) to YCbCr code values of `range`, rounded and clamped to 0–255.
    public static func yCbCr(fromRGB c: SIMD3<Float>, range: ColourRange) -> SIMD3<Float> {
        let luma = 0.299 * c.x + 0.587 * c.y + 0.114 * c.z
        var out = SIMD3<Float>(luma, 0.564334 * (c.z - luma), 0.713267 * (c.x - luma))
        if range == .limited {
            out = out * SIMD3(219.0 / 255.0, 224.0 / 255.0, 224.0 / 255.0) + SIMD3(16, 0, 0)
        }
        out += SIMD3(0, 128, 128)
        return out.rounded(.toNearestOrEven).clamped(lowerBound: .zero, upperBound: SIMD3(repeating: 255))
    }
}
