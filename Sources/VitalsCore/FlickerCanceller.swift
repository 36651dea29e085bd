/// Cancels the lamp's flicker from a pulse signal, with the scene's own brightness as reference.
///
/// The brightness around the face follows the lamp and carries no pulse. Whatever of it leaks
/// into the face's pulse signal (through the camera's gamma curve and exposure control, pixels
/// entering and leaving the skin mask, clipping) is, to first order, a filtered copy of it: the
/// reference (normalised to its mean and band-passed like the pulse) and its derivative, which
/// covers a shift of phase, are fitted to the pulse by least squares and subtracted, when the
/// reference shows a flicker at all.
///
/// The lamp's own frequency (the reference's spectral peak, when it stands out by 3 dB) and its
/// first harmonic tell the analyzer when to cancel (``isLamp(_:tolerance:)``): only when the lamp
/// is the strongest peak of the pulse signal.
public struct FlickerCanceller: Sendable {
    private let regressors: [[Double]]
    /// The lamp's flicker frequency in Hz, when the reference shows one.
    public let lampFrequency: Double?

    /// A canceller for one window's `reference` brightness, sampled at `sampleRate` Hz.
    public init(reference: [Double], sampleRate: Double, band: ClosedRange<Double>) {
        let mean = Stats.mean(reference)
        let filtered = mean > 0
            ? PulseMethod.pulseFilter(band: band, sampleRate: sampleRate).apply(reference.map { $0 / mean - 1 }, padding: Int(sampleRate))
            : []
        var slope = [Double](repeating: 0, count: filtered.count)
        for i in filtered.indices.dropFirst().dropLast() { slope[i] = (filtered[i + 1] - filtered[i - 1]) / 2 }
        regressors = filtered.isEmpty ? [] : [filtered, slope]
        let margin = 2 * sampleRate / Double(max(1, filtered.count))
        let peak = filtered.isEmpty
            ? nil : PowerSpectrum(of: filtered, sampleRate: sampleRate, range: (band.lowerBound - margin)...(band.upperBound + margin)).peak(in: band)
        lampFrequency = peak.flatMap { $0.snr >= 3 ? $0.frequency : nil }
    }

    /// Whether a peak at `frequency` (Hz), located within `tolerance` Hz, is the lamp's flicker
    /// or its first harmonic.
    public func isLamp(_ frequency: Double, tolerance: Double) -> Bool {
        guard let lamp = lampFrequency else { return false }
        return abs(frequency - lamp) <= tolerance || abs(frequency - 2 * lamp) <= tolerance
    }

    /// `pulse` less its least-squares fit on the reference and its derivative; unchanged when the
    /// reference shows no flicker (a steady lamp: the fit would only take noise away).
    public func cancel(from pulse: [Double]) -> [Double] {
        guard lampFrequency != nil, regressors.count == 2, regressors[0].count == pulse.count else { return pulse }
        let (r, d) = (regressors[0], regressors[1])
        var rr = 0.0, rd = 0.0, dd = 0.0, pr = 0.0, pd = 0.0
        for i in pulse.indices {
            rr += r[i] * r[i]
            rd += r[i] * d[i]
            dd += d[i] * d[i]
            pr += pulse[i] * r[i]
            pd += pulse[i] * d[i]
        }
        let determinant = rr * dd - rd * rd
        guard determinant > 1e-12 * max(rr * dd, 1e-300) else { return pulse }
        let a = (pr * dd - pd * rd) / determinant
        let b = (pd * rr - pr * rd) / determinant
        return pulse.indices.map { pulse[$0] - a * r[$0] - b * d[$0] }
    }
}
