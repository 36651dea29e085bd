/// Cancels the lamp's flicker from a pulse signal, with the scene's own brightness as reference.
///
/// The brightness around the face follows the lamp and carries no pulse (where the scene shows no
/// lamp, the analyzer may give the face's own brightness instead, which carries a little of the
/// pulse: see ``LampSignature``). Whatever of it leaks
/// into the face's pulse signal (through the camera's gamma curve and exposure control, pixels
/// entering and leaving the skin mask, clipping) is, to first order, a filtered copy of it: the
/// reference (normalised to its mean and band-passed like the pulse) and its derivative, which
/// covers a shift of phase, are fitted to the pulse by least squares and subtracted, when the
/// reference shows a flicker at all. To second order it is also the square of the reference: a
/// gamma curve bends a deep flicker, putting its harmonic (twice the lamp's rate) into the face
/// in another proportion than into the background; a canceller made with `fitsHarmonic` fits the
/// square and its derivative too, each band-passed (they also take a pulse beating near the
/// harmonic with them, the more so the shorter the window).
///
/// Made `withoutLamp`, it also cancels a reference that shows no lamp (the camera's own changes,
/// ``cancelsUnconditionally``). The lamp's own frequency (the reference's spectral peak, when it
/// stands out by 3 dB) and its first harmonic (``isLamp(_:tolerance:harmonic:)``) tell the 10 s window when to cancel (only
/// when the lamp is the strongest peak of the pulse signal) and the long window, which cancels
/// whenever there is a lamp, which peak to refuse. A peak on a higher harmonic
/// (``harmonic(near:tolerance:)``) has the harmonics up to it fitted too
/// (``fitting(harmonicsThrough:)``): the reference's change raised to each power, and its derivative.
public struct FlickerCanceller: Sendable {
    private let reading: LampReading
    private let withoutLamp: Bool
    /// The highest harmonic of the lamp fitted (1: its own rate only).
    let harmonicsFitted: Int
    private let regressors: [[Double]]
    private let fit: LeastSquares
    /// The lamp's flicker frequency in Hz, when the reference shows one.
    public let lampFrequency: Double?
    /// Whether the reference is to be cancelled from every pulse whatever its peak: made
    /// `withoutLamp` and the reference shows no lamp. (With a lamp, the lamp's own rule holds:
    /// cancel when it is the pulse's strongest peak.)
    public let cancelsUnconditionally: Bool

    /// A canceller for one window's `reference` brightness, sampled at `sampleRate` Hz; with
    /// `fitsHarmonic` it fits the lamp's harmonic too (the reference's square). Made
    /// `withoutLamp`, it cancels the reference even when it shows no flicker: what the camera
    /// itself does to the whole picture (auto-exposure hunting in steps, gain changes) shows in the
    /// background as it does in the face, as tones the lamp test does not catch.
    ///
    /// Each regressor is a signal the face could share with the reference, band-passed like the
    /// pulse: the reference's change, its derivative, and with `fitsHarmonic` the square of its
    /// change and that square's derivative. The derivatives are taken before the band-pass, as the
    /// face's own lag is: the band-pass of a derivative and the derivative of a band-pass agree
    /// inside the window but not at its ends, where the filter's padding differs.
    public init(reference: [Double], sampleRate: Double, band: ClosedRange<Double>, fitsHarmonic: Bool = false, withoutLamp: Bool = false) {
        self.init(reading: LampReading(reference, sampleRate: sampleRate, band: band), fitsHarmonic: fitsHarmonic, withoutLamp: withoutLamp)
    }

    /// The same, from a reference already read for a lamp, so a window's reference is read once.
    public init(reading: LampReading, fitsHarmonic: Bool = false, withoutLamp: Bool = false) {
        self.init(reading: reading, harmonics: fitsHarmonic ? 2 : 1, withoutLamp: withoutLamp)
    }

    /// A canceller that fits the lamp's harmonics up to the `harmonics`-th (1: the lamp's own
    /// rate only; 2: its first harmonic too, as `fitsHarmonic` does; 3: the second, ...), each by
    /// the reference's change raised to that power and its derivative.
    init(reading: LampReading, harmonics: Int, withoutLamp: Bool) {
        let (sampleRate, band) = (reading.sampleRate, reading.band)
        let filter = PulseMethod.pulseFilter(band: band, sampleRate: sampleRate)
        let (change, filtered) = (reading.change, reading.filtered)
        self.reading = reading
        self.withoutLamp = withoutLamp
        harmonicsFitted = harmonics
        lampFrequency = reading.lampFrequency
        // The other regressors only when there is something to cancel (most windows have no lamp).
        var sources: [[Double]] = []
        cancelsUnconditionally = withoutLamp && lampFrequency == nil && !filtered.isEmpty
        let cancels = lampFrequency != nil || cancelsUnconditionally
        if cancels {
            sources = [Self.derivative(change)]
            var raised = change
            for _ in stride(from: 2, through: harmonics, by: 1) {
                raised = zip(raised, change).map { $0 * $1 }
                sources += [raised, Self.derivative(raised)]
            }
        }
        regressors = !cancels ? [] : [filtered] + sources.map { filter.apply($0, padding: Int(sampleRate)) }
        fit = LeastSquares(regressors: regressors)
    }

    /// This canceller fitting the lamp's harmonics up to the `harmonic`-th as well (see
    /// ``harmonic(near:tolerance:)``).
    func fitting(harmonicsThrough harmonic: Int) -> FlickerCanceller {
        FlickerCanceller(reading: reading, harmonics: max(harmonic, harmonicsFitted), withoutLamp: withoutLamp)
    }

    /// `rgb` (uniformly sampled colours, as long as the reference) with the fit cancelled from
    /// each channel: each channel's change relative to its mean, band-passed like a pulse, less
    /// its least-squares fit, then scaled back onto the channel's mean. What the colours do at a
    /// frequency once the lamp (and the harmonics fitted) is out of them.
    func cancel(fromColours rgb: [SIMD3<Double>]) -> [SIMD3<Double>] {
        guard !rgb.isEmpty else { return rgb }
        let filter = PulseMethod.pulseFilter(band: reading.band, sampleRate: reading.sampleRate)
        let mean = rgb.reduce(SIMD3<Double>.zero, +) / Double(rgb.count)
        var out = rgb
        for c in 0..<3 where mean[c] > 0 {
            let change = filter.apply(rgb.map { $0[c] / mean[c] - 1 }, padding: Int(reading.sampleRate))
            for (i, value) in cancel(from: change).enumerated() { out[i][c] = mean[c] * (1 + value) }
        }
        return out
    }

    /// Which of the lamp's harmonics a peak at `frequency` (Hz) lies on, within `tolerance` Hz:
    /// 2 for twice the lamp's rate, 3 for three times, ...; `nil` for none (and for the lamp's
    /// own rate). A camera's non-linear response (its gamma curve, a compressor's quantisation of
    /// a flat surface's colour) repeats with the lamp's period, so its share of the flicker lies
    /// exactly on these.
    func harmonic(near frequency: Double, tolerance: Double) -> Int? {
        guard let lamp = lampFrequency, lamp > 0 else { return nil }
        let order = (frequency / lamp).rounded()
        return order >= 2 && abs(frequency - order * lamp) <= tolerance ? Int(order) : nil
    }

    /// The central difference of `x` per sample (one-sided at the two ends).
    static func derivative(_ x: [Double]) -> [Double] {
        guard x.count > 1 else { return x.map { _ in 0 } }
        return x.indices.map { i in
            let before = x[max(i - 1, 0)], after = x[min(i + 1, x.count - 1)]
            return (after - before) / Double(min(i + 1, x.count - 1) - max(i - 1, 0))
        }
    }

    /// Whether a peak at `frequency` (Hz), located within `tolerance` Hz, is the lamp's flicker,
    /// or with `harmonic` (the default) the lamp's flicker or its first harmonic.
    public func isLamp(_ frequency: Double, tolerance: Double, harmonic: Bool = true) -> Bool {
        guard let lamp = lampFrequency else { return false }
        return abs(frequency - lamp) <= tolerance || (harmonic && abs(frequency - 2 * lamp) <= tolerance)
    }

    /// `pulse` less its least-squares fit on the reference and its derivative (and, made with
    /// `fitsHarmonic` or fitting higher harmonics, the reference's square, cube, ... up to the
    /// harmonics fitted, each with its derivative); unchanged when the reference
    /// shows no flicker (a steady lamp: the fit would only take noise away). A regressor that is
    /// all zeros, or that the ones before it already span, is left out of the fit.
    public func cancel(from pulse: [Double]) -> [Double] {
        guard let first = regressors.first, first.count == pulse.count else { return pulse }
        let coefficients = fit.coefficients(fitting: pulse)
        return pulse.indices.map { i in pulse[i] - zip(coefficients, regressors).reduce(0) { $0 + $1.0 * $1.1[i] } }
    }
}

/// A window's brightness read for a lamp: its relative change, that change band-passed like a
/// pulse, and the lamp's flicker frequency in it. Read once per window, it serves both the choice
/// of reference (``LampSignature``, the analyzer's) and the canceller made from it.
public struct LampReading: Sendable {
    /// The reference's change relative to its mean (empty when its mean is not positive).
    let change: [Double]
    /// `change` band-passed like a pulse.
    let filtered: [Double]
    /// The lamp's flicker frequency in Hz: the strongest peak in the band of `filtered` when it
    /// stands out by 3 dB; `nil` when it does not (a steady lamp). Found on a spectrum four times
    /// finer than the natural resolution unless made otherwise (half the pulse's eight: a lamp is
    /// a clear tone; the vitals report's rows were the same either way, at half the cost).
    public let lampFrequency: Double?
    /// The rate the reference was sampled at (Hz) and the band read (Hz).
    let sampleRate: Double, band: ClosedRange<Double>

    /// Reads `reference` (brightness sampled at `sampleRate` Hz) for a lamp flickering in `band`
    /// (Hz) at least `minimumAmplitude` deep (relative to the mean; 0: any): a band-passed change
    /// whose RMS is under a tone of that amplitude's has no such lamp, and its spectrum is not
    /// computed. The spectrum is `oversampling` times finer than the reference's natural
    /// resolution.
    public init(_ reference: [Double], sampleRate: Double, band: ClosedRange<Double>, minimumAmplitude: Double = 0, oversampling: Int = 4) {
        self.sampleRate = sampleRate
        self.band = band
        let filter = PulseMethod.pulseFilter(band: band, sampleRate: sampleRate)
        let mean = Stats.mean(reference)
        change = mean > 0 ? reference.map { $0 / mean - 1 } : []
        filtered = change.isEmpty ? [] : filter.apply(change, padding: Int(sampleRate))
        let margin = 2 * sampleRate / Double(max(1, filtered.count))
        let deepEnough = minimumAmplitude <= 0 || Stats.standardDeviation(filtered) >= minimumAmplitude / 2.squareRoot()
        let peak = filtered.isEmpty || !deepEnough
            ? nil
            : PowerSpectrum(
                of: filtered, sampleRate: sampleRate, range: (band.lowerBound - margin)...(band.upperBound + margin), oversampling: oversampling,
                decimation: PulseMethod.spectrumDecimation(band: band, sampleRate: sampleRate, top: band.upperBound + margin)
            ).peak(in: band)
        lampFrequency = peak.flatMap { $0.snr >= 3 ? $0.frequency : nil }
    }
}

/// Ordinary least squares on a few fixed regressors, by the normal equations: the Gram matrix is
/// factored once (Cholesky, with a pivot test per column), then each signal costs one product
/// per regressor and two triangular solves.
struct LeastSquares: Sendable {
    private let regressors: [[Double]]
    /// The Cholesky factor of the Gram matrix over the regressors kept (`used`).
    private let lower: [[Double]]
    private let used: [Bool]

    /// A fit on `regressors` (all of one length). A regressor whose part not explained by the ones
    /// before it is below a millionth of its own energy (it adds nothing new, or is all zeros) is
    /// left out and gets the coefficient 0.
    init(regressors: [[Double]]) {
        precondition(Set(regressors.map(\.count)).count <= 1, "regressors of different lengths")
        let k = regressors.count
        var gram = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for a in 0..<k {
            for b in a..<k {
                let sum = zip(regressors[a], regressors[b]).reduce(0) { $0 + $1.0 * $1.1 }
                gram[a][b] = sum
                gram[b][a] = sum
            }
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
        self.regressors = regressors
        self.lower = lower
        self.used = used
    }

    /// The coefficients that fit `y` (as long as the regressors) best as a sum of the regressors.
    func coefficients(fitting y: [Double]) -> [Double] {
        precondition(regressors.allSatisfy { $0.count == y.count }, "a signal of another length than the regressors")
        let k = regressors.count
        let rhs = regressors.map { regressor in zip(regressor, y).reduce(0) { $0 + $1.0 * $1.1 } }
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
