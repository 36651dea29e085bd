#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// How the pulse signal is extracted from the mean skin colour over time.
public enum PulseMethod: String, Sendable, Hashable, CaseIterable {
    /// Plane-Orthogonal-to-Skin (Wang, den Brinker, Stuijk & de Haan 2017): projects the
    /// normalised colour onto the plane orthogonal to the skin tone, in 1.6 s windows
    /// overlap-added, tuning the mix of the two projections to each window. Cancels changes of
    /// intensity (flicker, shading, motion) by construction. The default.
    case pos
    /// Chrominance-based (de Haan & Jeanne 2013): two colour-difference signals, band-passed,
    /// combined so that specular (white) reflection changes cancel.
    case chrom
    /// Blood-volume pulse signature (de Haan & van Leest 2014, "PBV"): in 1.6 s windows,
    /// overlap-added, the mix of the three normalised channels that keeps unit gain in blood's own
    /// colour direction (``bloodSignature``) and passes the least of everything else (the
    /// minimum-variance combination `C⁻¹p / pᵀC⁻¹p` over the window's covariance `C`). Whatever
    /// moves the channels in another direction (a lamp, exposure steps through the camera's gamma
    /// curve, white balance, shading as the head moves) is suppressed, and a channel that is
    /// mostly noise (blue on dark skin in dim light) is weighted down. It relies on the signature
    /// being the camera's: see docs/VITALS.md for where it beats POS and where it does not.
    case pbv
    /// The green channel alone (Verkruysse, Svaasand & Nelson 2008): simplest, the least robust
    /// to motion and light changes. For comparison.
    case green
    /// POS and CHROM both, window by window, keeping the one whose spectral peak stands out more
    /// (POS is steadier under motion, CHROM under some lamps and highlights).
    case auto

    /// The methods tried for this one.
    var candidates: [PulseMethod] { self == .auto ? [.pos, .chrom] : [self] }

    /// The method the 10 s window uses while a lamp flickers: ``auto`` for POS (POS and CHROM,
    /// the clearer peak wins), itself otherwise.
    var underALamp: PulseMethod { self == .pos ? .auto : self }

    /// Extracts the pulse signal from uniformly sampled mean RGB traces (``auto`` extracts with
    /// POS; the analyzer tries each of its ``candidates``).
    ///
    /// The result rises with blood volume (the skin gets darker in green), has zero mean and is
    /// band-passed with some margin around `band` (Hz), so rates at the band's edges keep their
    /// strength.
    func extract(_ rgb: [SIMD3<Double>], sampleRate: Double, band: ClosedRange<Double>) -> [Double] {
        let filter = Self.pulseFilter(band: band, sampleRate: sampleRate)
        let padding = Int(sampleRate)
        switch self {
        case .pos, .auto:
            return filter.apply(Self.pos(rgb, sampleRate: sampleRate), padding: padding)
        case .pbv:
            return filter.apply(Self.pbv(rgb, sampleRate: sampleRate), padding: padding)
        case .chrom:
            let mean = rgb.reduce(SIMD3<Double>.zero, +) / Double(max(rgb.count, 1))
            let normalised = rgb.map { $0 / mean }
            // The two chrominance signals band-passed side by side, in SIMD lanes.
            let both = filter.apply(lanes: normalised.map { SIMD4(3 * $0.x - 2 * $0.y, 1.5 * $0.x + $0.y - 1.5 * $0.z, 0, 0) }, padding: padding)
            let xs = both.map { $0.x }, ys = both.map { $0.y }
            let sy = Stats.standardDeviation(ys)
            let alpha = sy > 0 ? Stats.standardDeviation(xs) / sy : 0
            return zip(xs, ys).map { -($0 - alpha * $1) }
        case .green:
            let mean = Stats.mean(rgb.map { $0.y })
            return filter.apply(rgb.map { mean > 0 ? 1 - $0.y / mean : 0 }, padding: padding)
        }
    }

    /// Relative change of red, green and blue reflectance per unit of blood volume, green = 1
    /// (Wang et al. 2017's 0.33 : 0.77 : 0.53 for a standard camera, after de Haan & van Leest 2014).
    public static let bloodSignature = SIMD3<Double>(0.43, 1, 0.69)

    /// The band-pass every pulse signal goes through: `band` (Hz) widened by 30% below and 25%
    /// above, so rates at the band's edges keep their strength, and kept under 0.45 of the
    /// sample rate.
    static func pulseFilter(band: ClosedRange<Double>, sampleRate: Double) -> BandPass {
        BandPass(band: pulsePassBand(band: band, sampleRate: sampleRate), sampleRate: sampleRate)
    }

    /// The pass band of ``pulseFilter(band:sampleRate:)`` in Hz, without making the filter.
    private static func pulsePassBand(band: ClosedRange<Double>, sampleRate: Double) -> ClosedRange<Double> {
        (0.7 * band.lowerBound)...min(1.25 * band.upperBound, 0.45 * sampleRate)
    }

    /// How many samples apart a spectrum up to `top` Hz of a signal through ``pulseFilter(band:sampleRate:)``
    /// may take its samples (``PowerSpectrum``'s `decimation`): the most that keeps the
    /// spectrum's copies (at multiples of `sampleRate / decimation` less `top`) at least 2.1 times
    /// the filter's upper edge, where its two low-pass sections run both ways have cut by over
    /// 50 dB (at the default 30 Hz: 85 dB at 2.1 × 5 = 10.5 Hz, 90 dB at 10.8 Hz, from which the
    /// band's 4.2 Hz takes its copy). At 30 Hz and the default band: 2.
    static func spectrumDecimation(band: ClosedRange<Double>, sampleRate: Double, top: Double) -> Int {
        let edge = pulsePassBand(band: band, sampleRate: sampleRate).upperBound
        return max(1, Int((sampleRate / (top + 2.1 * edge)).rounded(.down)))
    }

    /// PBV's mix of the three normalised channels for colours with these sums of squares
    /// `(rr, gg, bb)` and of cross products `(rg, rb, gb)`: `C⁻¹p / pᵀC⁻¹p`, unit gain in blood's
    /// direction `p` (``bloodSignature``). The covariance `C` is loaded on its diagonal by a
    /// millionth of its trace, so colours without noise in one channel still invert while a
    /// lamp's flicker a thousand times stronger than the pulse is still nulled.
    ///
    /// - Returns: The weights; `nil` when `C` does not invert or the gain is not positive.
    static func pbvWeights(squares: SIMD3<Double>, crossProducts: SIMD3<Double>) -> SIMD3<Double>? {
        let loading = 1e-6 * squares.sum() + 1e-18
        guard let w = SymmetricMatrix3(diagonal: squares + loading, offDiagonal: crossProducts).solve(bloodSignature) else {
            return nil
        }
        let gain = (w * bloodSignature).sum()
        return gain > 0 ? w / gain : nil
    }

    /// PBV over a whole window with the covariance of the band-passed colours: the
    /// minimum-variance mix `C⁻¹p / pᵀC⁻¹p` of the three normalised channels, `C` measured only
    /// within the heart-rate band (with margin) and over the whole trace rather than per 1.6 s.
    ///
    /// Over a long window the noise in the band is steady, and on dark skin or in dim light it is
    /// mostly the camera's shot noise, largest in the weakest channel (blue on dark skin): one
    /// covariance over hundreds of samples finds the mix that passes the least of it, where 1.6 s
    /// windows (48 samples at 30 Hz) measure it too roughly and POS's fixed projections add the
    /// blue channel's noise at full weight. Whatever moves the channels together in the band (a
    /// lamp's flicker, exposure steps) is in `C` and nulled with it. Nulling a lamp costs noise
    /// (through the camera's gamma curve its colour lies within about 20° of blood's), so when
    /// `flicker` shows a lamp it is first regressed out of each channel, its harmonic included
    /// (when `flicker` was made with `fitsHarmonic`, as the analyzer's is; over 20 s that takes
    /// about a sixth of the power of a pulse 2 bpm from the harmonic, and about two thirds of one
    /// 1 bpm from it), and `C` keeps only what the reference cannot explain.
    ///
    /// - Parameters:
    ///   - rgb: The mean skin colour, uniformly sampled at `sampleRate` Hz.
    ///   - band: The heart-rate band in Hz; the colours are band-passed with some margin around it.
    ///   - flicker: The window's lamp reference, when the analyzer has one.
    /// - Returns: The pulse signal, as long as `rgb`, rising with blood volume and in units of it:
    ///   a change of the colours by `−d·p` (blood's signature `p` scaled by `d`) comes out as
    ///   `+d`, less what a lamp's fit takes of it. All zeros when `rgb` has fewer than two
    ///   samples, a channel's mean is not positive, `C` does not invert or its gain along `p` is
    ///   not positive.
    public static func bandLimitedPBV(
        _ rgb: [SIMD3<Double>], sampleRate: Double, band: ClosedRange<Double>, flicker: FlickerCanceller? = nil
    ) -> [Double] {
        let n = rgb.count
        let mean = rgb.reduce(SIMD3<Double>.zero, +) / Double(max(n, 1))
        guard n > 1, mean.x > 0, mean.y > 0, mean.z > 0 else { return [Double](repeating: 0, count: n) }
        let filter = pulseFilter(band: band, sampleRate: sampleRate)
        let padding = Int(sampleRate)
        // The three channels band-passed side by side, in SIMD lanes.
        let changes = filter.apply(lanes: rgb.map { SIMD4($0.x / mean.x - 1, $0.y / mean.y - 1, $0.z / mean.z - 1, 0) }, padding: padding)
        func channel(_ lane: Int) -> [Double] {
            let filtered = changes.map { $0[lane] }
            return flicker?.cancel(from: filtered) ?? filtered
        }
        let red = channel(0), green = channel(1), blue = channel(2)
        var xx = SIMD3<Double>.zero, cross = SIMD3<Double>.zero  // (rr, gg, bb), (rg, rb, gb)
        for i in 0..<n {
            let c = SIMD3(red[i], green[i], blue[i])
            xx += c * c
            cross += SIMD3(c.x * c.y, c.x * c.z, c.y * c.z)
        }
        guard let weights = pbvWeights(squares: xx, crossProducts: cross) else { return [Double](repeating: 0, count: n) }
        // Blood darkens the skin along the signature: flip so the pulse rises.
        return (0..<n).map { -(red[$0] * weights.x + green[$0] * weights.y + blue[$0] * weights.z) }
    }

    /// PBV with 1.6 s periodic Hann windows at half overlap, overlap-added (a last window flush
    /// with the end covers the tail; where windows overlap by more than half, the sum is divided
    /// by the windows' summed weight). Each window's colours are
    /// taken relative to the window's mean and mixed by ``pbvWeights(squares:crossProducts:)``.
    static func pbv(_ rgb: [SIMD3<Double>], sampleRate: Double) -> [Double] {
        let n = rgb.count
        let length = Int((1.6 * sampleRate).rounded(.up))
        var h = [Double](repeating: 0, count: n)
        guard n >= length else { return h }
        let hop = length / 2
        var starts = Array(stride(from: 0, through: n - length, by: hop))
        if let last = starts.last, last + length < n { starts.append(n - length) }
        var relative = [SIMD3<Double>](repeating: .zero, count: length)
        var weight = [Double](repeating: 0, count: n)
        let hann = (0..<length).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(length)) }
        for start in starts {
            var mean = SIMD3<Double>.zero
            for i in start..<(start + length) { mean += rgb[i] }
            mean /= Double(length)
            guard mean.x > 0, mean.y > 0, mean.z > 0 else { continue }
            var xx = SIMD3<Double>.zero, cross = SIMD3<Double>.zero  // (rr, gg, bb), (rg, rb, gb)
            for k in 0..<length {
                let c = rgb[start + k] / mean - 1
                relative[k] = c
                xx += c * c
                cross += SIMD3(c.x * c.y, c.x * c.z, c.y * c.z)
            }
            guard let weights = pbvWeights(squares: xx, crossProducts: cross) else { continue }
            for k in 0..<length {
                // Blood darkens the skin along the signature: flip so the pulse rises.
                h[start + k] -= (relative[k] * weights).sum() * hann[k]
                weight[start + k] += hann[k]
            }
        }
        for i in 0..<n where weight[i] > 1 { h[i] /= weight[i] }
        return h
    }

    /// POS with a 1.6 s window, overlap-added (Wang et al. 2017, algorithm 1), in time linear in
    /// the trace's length.
    ///
    /// Algorithm 1 slides the window one sample at a time; each window's colours are divided by
    /// the window's mean, projected on the plane's two axes `S1 = G − B` and `S2 = G + B − 2R`,
    /// mixed as `S1 + α·S2` with `α = σ(S1) / σ(S2)`, and the mix, less its mean, is added into
    /// the output. Every step is linear in the colours once the window's mean and `α` are known,
    /// so a window adds to each sample it covers a fixed weighting of that sample's red, green
    /// and blue: `(2α/R̄, −(1 + α)/Ḡ, (1 − α)/B̄)` after the flip that makes the pulse rise. The
    /// means and the (co)variances behind `α` come from running sums, and each sample's output
    /// from running sums of the weightings over the windows that cover it, rather than from
    /// revisiting all 1.6 s of samples for every window. A window whose mean is not positive in
    /// every channel (beyond the running sums' rounding) adds nothing.
    ///
    /// - Returns: The pulse signal, as long as `rgb`; all zeros when `rgb` is shorter than a window.
    public static func pos(_ rgb: [SIMD3<Double>], sampleRate: Double) -> [Double] {
        let n = rgb.count
        let length = Int((1.6 * sampleRate).rounded(.up))
        guard n >= length else { return [Double](repeating: 0, count: n) }
        // The colours less the trace's mean, so that the sums of squares keep their precision.
        let origin = rgb.reduce(SIMD3<Double>.zero, +) / Double(n)
        // A window mean within the running sums' rounding of zero is no light (a covered lens).
        let darkness = 1e-9 * rgb.reduce(0) { max($0, $1.max(), -$1.min()) }
        // Running sums (index i holds the sum over samples before i): the centred colours,
        // their squares (rr, gg, bb) and their cross products (rg, rb, gb).
        var sums = [SIMD3<Double>](repeating: .zero, count: n + 1), squares = sums, crosses = sums
        for i in 0..<n {
            let c = rgb[i] - origin
            sums[i + 1] = sums[i] + c
            squares[i + 1] = squares[i] + c * c
            crosses[i + 1] = crosses[i] + SIMD3(c.x * c.y, c.x * c.z, c.y * c.z)
        }
        // Running sums, over windows by their last sample, of each window's weighting and of the
        // weighting applied to the window's centred mean. A weighting applied to the window's own
        // mean gives 0 (the mix's mean is subtracted), so applied to a centred colour `c` it
        // gives `w·c − w·(mean − origin)`, both small numbers.
        var weightings = [SIMD3<Double>](repeating: .zero, count: n + 1)
        var offsets = [Double](repeating: 0, count: n + 1)
        let count = Double(length)
        for last in (length - 1)..<n {
            let first = last - length + 1
            let centredMean = (sums[last + 1] - sums[first]) / count
            let mean = origin + centredMean
            var weighting = SIMD3<Double>.zero
            if mean.min() > darkness {
                let m = centredMean
                // The covariance of the colours divided by the window's mean (the normalised colours').
                let variance = ((squares[last + 1] - squares[first]) / count - m * m) / (mean * mean)
                let covariance =
                    ((crosses[last + 1] - crosses[first]) / count - SIMD3(m.x * m.y, m.x * m.z, m.y * m.z))
                    / SIMD3(mean.x * mean.y, mean.x * mean.z, mean.y * mean.z)
                let (rr, gg, bb) = (variance.x, variance.y, variance.z)
                let (rg, rb, gb) = (covariance.x, covariance.y, covariance.z)
                let varianceS1 = gg + bb - 2 * gb
                let varianceS2 = gg + bb + 4 * rr + 2 * gb - 4 * rg - 4 * rb
                // A projection without variance beyond the running sums' rounding (which grows
                // with everything summed before the window) gets no share.
                let rounding = 1e-10 * (squares[last + 1] / count / (mean * mean)).sum()
                let alpha = varianceS2 > rounding ? (max(0, varianceS1) / varianceS2).squareRoot() : 0
                weighting = SIMD3(2 * alpha, -(1 + alpha), 1 - alpha) / mean
            }
            weightings[last + 1] = weightings[last] + weighting
            offsets[last + 1] = offsets[last] + (weighting * centredMean).sum()
        }
        var h = [Double](repeating: 0, count: n)
        for i in 0..<n {
            // The windows covering sample i end at i … i + length − 1 (within the trace).
            let first = max(i, length - 1), last = min(i + length - 1, n - 1)
            let weighting = weightings[last + 1] - weightings[first]
            h[i] = (weighting * (rgb[i] - origin)).sum() - (offsets[last + 1] - offsets[first])
        }
        return h
    }
}


/// A symmetric 3×3 matrix, for the three colour channels' covariance.
struct SymmetricMatrix3 {
    /// The diagonal (00, 11, 22) and the entries above it (01, 02, 12).
    var diagonal: SIMD3<Double>, offDiagonal: SIMD3<Double>

    /// The solution `x` of `M x = b` by Cramer's rule; `nil` unless the determinant is positive
    /// (a covariance's is, unless it is singular).
    func solve(_ b: SIMD3<Double>) -> SIMD3<Double>? {
        let (a, d, f) = (diagonal.x, diagonal.y, diagonal.z)
        let (bb, c, e) = (offDiagonal.x, offDiagonal.y, offDiagonal.z)
        // Cofactors of [[a, bb, c], [bb, d, e], [c, e, f]].
        let c00 = d * f - e * e, c01 = c * e - bb * f, c02 = bb * e - c * d
        let c11 = a * f - c * c, c12 = bb * c - a * e, c22 = a * d - bb * bb
        let determinant = a * c00 + bb * c01 + c * c02
        guard determinant.isNormal, determinant > 0 else { return nil }
        return SIMD3(
            c00 * b.x + c01 * b.y + c02 * b.z,
            c01 * b.x + c11 * b.y + c12 * b.z,
            c02 * b.x + c12 * b.y + c22 * b.z
        ) / determinant
    }
}
