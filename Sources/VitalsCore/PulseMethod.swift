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
    /// The green channel alone (Verkruysse, Svaasand & Nelson 2008): simplest, the least robust
    /// to motion and light changes. For comparison.
    case green
    /// POS and CHROM both, window by window, keeping the one whose spectral peak stands out more
    /// (POS is steadier under motion, CHROM under some lamps and highlights).
    case auto

    /// The methods tried for this one.
    var candidates: [PulseMethod] { self == .auto ? [.pos, .chrom] : [self] }

    /// Extracts the pulse signal from uniformly sampled mean RGB traces (``auto`` extracts with
    /// POS; the analyzer tries each of its ``candidates``).
    ///
    /// The result rises with blood volume (the skin gets darker in green), has zero mean and is
    /// band-passed with some margin around `band` (Hz), so rates at the band's edges keep their
    /// strength.
    func extract(_ rgb: [SIMD3<Double>], sampleRate: Double, band: ClosedRange<Double>) -> [Double] {
        let filterBand = (0.7 * band.lowerBound)...min(1.25 * band.upperBound, 0.45 * sampleRate)
        let filter = BandPass(band: filterBand, sampleRate: sampleRate)
        let padding = Int(sampleRate)
        switch self {
        case .pos, .auto:
            return filter.apply(Self.pos(rgb, sampleRate: sampleRate), padding: padding)
        case .chrom:
            let mean = rgb.reduce(SIMD3<Double>.zero, +) / Double(max(rgb.count, 1))
            let normalised = rgb.map { $0 / mean }
            let xs = filter.apply(normalised.map { 3 * $0.x - 2 * $0.y }, padding: padding)
            let ys = filter.apply(normalised.map { 1.5 * $0.x + $0.y - 1.5 * $0.z }, padding: padding)
            let sy = Stats.standardDeviation(ys)
            let alpha = sy > 0 ? Stats.standardDeviation(xs) / sy : 0
            return zip(xs, ys).map { -($0 - alpha * $1) }
        case .green:
            let mean = Stats.mean(rgb.map(\.y))
            return filter.apply(rgb.map { mean > 0 ? 1 - $0.y / mean : 0 }, padding: padding)
        }
    }

    /// POS with a 1.6 s window, overlap-added (Wang et al. 2017, algorithm 1).
    static func pos(_ rgb: [SIMD3<Double>], sampleRate: Double) -> [Double] {
        let n = rgb.count
        let length = Int((1.6 * sampleRate).rounded(.up))
        var h = [Double](repeating: 0, count: n)
        guard n >= length else { return h }
        var s1 = [Double](repeating: 0, count: length), s2 = s1, window = s1
        for end in (length - 1)..<n {
            let start = end - length + 1
            var mean = SIMD3<Double>.zero
            for i in start...end { mean += rgb[i] }
            mean /= Double(length)
            guard mean.x > 0, mean.y > 0, mean.z > 0 else { continue }
            for k in 0..<length {
                let c = rgb[start + k] / mean
                s1[k] = c.y - c.z
                s2[k] = c.y + c.z - 2 * c.x
            }
            let d2 = Stats.standardDeviation(s2)
            let alpha = d2 > 0 ? Stats.standardDeviation(s1) / d2 : 0
            for k in 0..<length { window[k] = s1[k] + alpha * s2[k] }
            let m = Stats.mean(window)
            // Blood absorbs green most: more blood makes the projection fall; flip so pulse rises.
            for k in 0..<length { h[start + k] -= window[k] - m }
        }
        return h
    }
}
