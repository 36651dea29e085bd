/// Cancels the lamp's flicker from a pulse signal, with the scene's own brightness as reference.
///
/// The brightness around the face follows the lamp and carries no pulse. Whatever of it leaks
/// into the face's pulse signal (through the camera's gamma curve and exposure control, pixels
/// entering and leaving the skin mask, clipping) is, to first order, a filtered copy of it: the
/// reference (normalised to its mean and band-passed like the pulse) and its derivative, which
/// covers a shift of phase, are fitted to the pulse by least squares and subtracted, when the
/// reference shows a flicker at all. To second order it is also the square of the reference: a
/// gamma curve bends a deep flicker, putting its harmonic (twice the lamp's rate) into the face
/// in another proportion than into the background; a canceller made with `fitsHarmonic` fits the
/// square (band-passed) and its derivative too (they also take a pulse beating near the
/// harmonic with them, the more so the shorter the window).
///
/// The lamp's own frequency (the reference's spectral peak, when it stands out by 3 dB) and its
/// first harmonic (``isLamp(_:tolerance:harmonic:)``) tell the 10 s window when to cancel (only
/// when the lamp is the strongest peak of the pulse signal) and the long window, which cancels
/// whenever there is a lamp, which peak to refuse.
public struct FlickerCanceller: Sendable {
    private let regressors: [[Double]]
    /// The lamp's flicker frequency in Hz, when the reference shows one.
    public let lampFrequency: Double?

    /// A canceller for one window's `reference` brightness, sampled at `sampleRate` Hz; with
    /// `fitsHarmonic` it fits the lamp's harmonic too (the reference's square), which only then
    /// is band-passed.
    public init(reference: [Double], sampleRate: Double, band: ClosedRange<Double>, fitsHarmonic: Bool = false) {
        let mean = Stats.mean(reference)
        let filtered = mean > 0
            ? PulseMethod.pulseFilter(band: band, sampleRate: sampleRate).apply(reference.map { $0 / mean - 1 }, padding: Int(sampleRate))
            : []
        func slope(_ x: [Double]) -> [Double] {
            var slope = [Double](repeating: 0, count: x.count)
            for i in x.indices.dropFirst().dropLast() { slope[i] = (x[i + 1] - x[i - 1]) / 2 }
            return slope
        }
        if filtered.isEmpty {
            regressors = []
        } else if fitsHarmonic {
            let squared = PulseMethod.pulseFilter(band: band, sampleRate: sampleRate)
                .apply(reference.map { ($0 / mean - 1) * ($0 / mean - 1) }, padding: Int(sampleRate))
            regressors = [filtered, slope(filtered), squared, slope(squared)]
        } else {
            regressors = [filtered, slope(filtered)]
        }
        let margin = 2 * sampleRate / Double(max(1, filtered.count))
        let peak = filtered.isEmpty
            ? nil : PowerSpectrum(of: filtered, sampleRate: sampleRate, range: (band.lowerBound - margin)...(band.upperBound + margin)).peak(in: band)
        lampFrequency = peak.flatMap { $0.snr >= 3 ? $0.frequency : nil }
    }

    /// Whether a peak at `frequency` (Hz), located within `tolerance` Hz, is the lamp's flicker,
    /// or with `harmonic` (the default) the lamp's flicker or its first harmonic.
    public func isLamp(_ frequency: Double, tolerance: Double, harmonic: Bool = true) -> Bool {
        guard let lamp = lampFrequency else { return false }
        return abs(frequency - lamp) <= tolerance || (harmonic && abs(frequency - 2 * lamp) <= tolerance)
    }

    /// `pulse` less its least-squares fit on the reference and its derivative (and, made with
    /// `fitsHarmonic`, the reference's square and its derivative); unchanged when the reference
    /// shows no flicker (a steady lamp: the fit would only take noise away). A regressor that is
    /// all zeros, or that the ones before it already span, is left out of the fit.
    public func cancel(from pulse: [Double]) -> [Double] {
        guard lampFrequency != nil, let first = regressors.first, first.count == pulse.count else { return pulse }
        let fit = LeastSquares.fit(pulse, on: regressors)
        return pulse.indices.map { i in pulse[i] - zip(fit, regressors).reduce(0) { $0 + $1.0 * $1.1[i] } }
    }
}

/// Ordinary least squares on a few regressors, by the normal equations.
enum LeastSquares {
    /// The coefficients that fit `y` best as a sum of `regressors` (each as long as `y`). A
    /// regressor whose part not explained by the ones before it is below a millionth of its own
    /// energy (it adds nothing new, or is all zeros) gets 0.
    static func fit(_ y: [Double], on regressors: [[Double]]) -> [Double] {
        let k = regressors.count
        // The Gram matrix and the right-hand side, solved by Cholesky with a pivot test per column.
        var gram = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        var rhs = [Double](repeating: 0, count: k)
        for a in 0..<k {
            for b in a..<k {
                var sum = 0.0
                for i in y.indices { sum += regressors[a][i] * regressors[b][i] }
                gram[a][b] = sum
                gram[b][a] = sum
            }
            var sum = 0.0
            for i in y.indices { sum += regressors[a][i] * y[i] }
            rhs[a] = sum
        }
        var lower = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        var used = [Bool](repeating: false, count: k)
        for a in 0..<k {
            var pivot = gram[a][a]
            for c in 0..<a where used[c] { pivot -= lower[a][c] * lower[a][c] }
            guard gram[a][a] > 0, pivot > 1e-6 * gram[a][a] else { continue }
            used[a] = true
            lower[a][a] = pivot.squareRoot()
            for b in (a + 1)..<k {
                var sum = gram[b][a]
                for c in 0..<a where used[c] { sum -= lower[b][c] * lower[a][c] }
                lower[b][a] = sum / lower[a][a]
            }
        }
        // Forward then back substitution over the regressors kept.
        var z = [Double](repeating: 0, count: k)
        for a in 0..<k where used[a] {
            var sum = rhs[a]
            for c in 0..<a where used[c] { sum -= lower[a][c] * z[c] }
            z[a] = sum / lower[a][a]
        }
        var coefficients = [Double](repeating: 0, count: k)
        for a in (0..<k).reversed() where used[a] {
            var sum = z[a]
            for c in (a + 1)..<k where used[c] { sum -= lower[c][a] * coefficients[c] }
            coefficients[a] = sum / lower[a][a]
        }
        return coefficients
    }
}
