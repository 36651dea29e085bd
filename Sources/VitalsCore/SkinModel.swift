/// The colour box that classifies a pixel as skin, in 8-bit YCbCr.
///
/// The chroma bounds are the classic ones of Chai & Ngan (1999), `Cb` 77–127 and `Cr` 133–173
/// in full-range YCbCr; a luma floor and ceiling leave out near-black pixels (dark hair,
/// shadow, where chroma is mostly noise) and clipped highlights (where colour is lost); a
/// ceiling on the red channel (estimated from luma and red-difference chroma) leaves out
/// pixels about to clip in red, the brightest channel of skin: a clipped pixel does not follow
/// a change of light in proportion, which would turn lamp flicker into a colour change.
/// Skin-coloured objects pass this test too: the pulse-quality gate rejects them later.
public struct SkinModel: Hashable, Sendable {
    /// Inclusive luma bounds, full range.
    public var luma: ClosedRange<Int>
    /// Inclusive blue-difference chroma bounds, full range.
    public var cb: ClosedRange<Int>
    /// Inclusive red-difference chroma bounds, full range.
    public var cr: ClosedRange<Int>

    /// Largest red value (0–255) a skin pixel may have.
    public var maximumRed: Int

    /// A skin model with the given bounds (full-range 8-bit values).
    public init(
        luma: ClosedRange<Int> = 20...250,
        cb: ClosedRange<Int> = 77...127,
        cr: ClosedRange<Int> = 133...173,
        maximumRed: Int = 240
    ) {
        self.luma = luma
        self.cb = cb
        self.cr = cr
        self.maximumRed = maximumRed
    }

    /// The model for skin seen `scale` times as bright as the box was drawn for (0 < `scale` ≤ 1):
    /// the luma floor and the chroma bounds nearest to grey move towards grey by that factor,
    /// the other bounds stay. Chroma's distance from grey grows with the light, so a face in dim
    /// light, or the darkest skin, sits near the box's grey edge and under its luma floor, and
    /// frame noise moves its pixels in and out of the box; seen at its own brightness it passes
    /// whole.
    public func dimmed(to scale: Double) -> SkinModel {
        let scale = min(1, max(0.01, scale))
        var model = self
        model.luma = max(1, Int((Double(luma.lowerBound) * scale).rounded()))...luma.upperBound
        if cr.lowerBound > 128 { model.cr = (128 + Int((Double(cr.lowerBound - 128) * scale).rounded(.up)))...cr.upperBound }
        if cb.upperBound < 128 { model.cb = cb.lowerBound...(128 - Int((Double(128 - cb.upperBound) * scale).rounded(.up))) }
        return model
    }

    /// The bounds expressed in the code values of `range`.
    func thresholds(for range: ColourRange) -> SkinThresholds {
        switch range {
        case .full:
            // R = Y + 1.402 (Cr − 128) ≈ (8 Y + 11 Cr − 1408) / 8.
            return SkinThresholds(luma: luma, cb: cb, cr: cr, redLimit: 8 * maximumRed + 11 * 128)
        case .limited:
            func lumaCode(_ v: Int) -> Int { 16 + (v * 219 + 127) / 255 }
            func chromaCode(_ v: Int) -> Int { 128 + ((v - 128) * 224 + (v >= 128 ? 127 : -127)) / 255 }
            return SkinThresholds(
                luma: lumaCode(luma.lowerBound)...lumaCode(luma.upperBound),
                cb: chromaCode(cb.lowerBound)...chromaCode(cb.upperBound),
                cr: chromaCode(cr.lowerBound)...chromaCode(cr.upperBound),
                // R = 1.164 (Y − 16) + 1.596 (Cr − 128) ≈ (8 Y + 11 Cr) / 6.875 − 222.9.
                redLimit: Int((Double(maximumRed) + 222.9) * 6.875)
            )
        }
    }
}

/// Skin bounds in the code values of one colour range, as the accumulation kernels use them:
/// a value `x` is inside when `x &- lower <= span` in unsigned arithmetic, and red is below its
/// ceiling when `8 Y + 11 Cr <= redLimit`.
struct SkinThresholds: Hashable, Sendable {
    var lumaLower: UInt16, lumaSpan: UInt16
    var cbLower: UInt16, cbSpan: UInt16
    var crLower: UInt16, crSpan: UInt16
    var redLimit: UInt16

    init(luma: ClosedRange<Int>, cb: ClosedRange<Int>, cr: ClosedRange<Int>, redLimit: Int) {
        self.redLimit = UInt16(max(0, min(Int(UInt16.max), redLimit)))
        func clamp(_ v: Int) -> UInt16 { UInt16(max(0, min(255, v))) }
        lumaLower = clamp(luma.lowerBound)
        lumaSpan = clamp(luma.upperBound) &- lumaLower
        cbLower = clamp(cb.lowerBound)
        cbSpan = clamp(cb.upperBound) &- cbLower
        crLower = clamp(cr.lowerBound)
        crSpan = clamp(cr.upperBound) &- crLower
    }

    @inline(__always)
    func isSkin(y: Int, cb: Int, cr: Int) -> Bool {
        UInt16(truncatingIfNeeded: y) &- lumaLower <= lumaSpan
            && UInt16(truncatingIfNeeded: cb) &- cbLower <= cbSpan
            && UInt16(truncatingIfNeeded: cr) &- crLower <= crSpan
            && UInt16(8 * y + 11 * cr) <= redLimit
    }
}
