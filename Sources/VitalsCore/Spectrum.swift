#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The strongest spectral peak of a signal within a band, and how far it stands out.
public struct SpectralPeak: Sendable, Hashable {
    /// Peak frequency in Hz, refined between grid points.
    public var frequency: Double
    /// Power within one bin of the peak against the rest of the band (leaving out the same
    /// width around the first harmonic, which belongs to neither), in dB.
    public var snr: Double
}

/// Power spectrum of a finite real signal on a fine frequency grid.
///
/// The signal is Hann-windowed and its discrete-time Fourier transform evaluated on a grid (no
/// FFT; by default eight times finer than the natural resolution, `sampleRate / count`), so the
/// peak is located well within a bin; a parabola through the log power of the three highest grid
/// points refines it further.
public struct PowerSpectrum: Sendable {
    /// Grid frequencies in Hz.
    public let frequencies: [Double]
    /// Power at each grid frequency.
    public let power: [Double]
    /// Spacing of the grid, in Hz.
    public let step: Double
    /// Half-width of the band counted as the peak's own power: one natural bin, in Hz (the
    /// Hann window puts nearly all of a steady tone's power within a bin of its frequency).
    public let lobeHalfWidth: Double

    /// Computes the spectrum of `signal` between `range` (Hz).
    ///
    /// With `decimation` above 1, only every `decimation`-th sample of the windowed signal is
    /// transformed, which divides the cost by as much: their transform is the whole signal's
    /// plus copies of it shifted by multiples of `sampleRate / decimation`, so this is only for
    /// a signal with practically nothing at those shifts of `range`, such as one band-passed
    /// well below them (the analyzer's pulse signals and lamp readings, whose band-pass allows 2
    /// at 30 Hz). The power is scaled back to the whole signal's. `decimation` must be at least
    /// 1; a signal shorter than twice it is transformed whole.
    public init(of signal: [Double], sampleRate: Double, range: ClosedRange<Double>, oversampling: Int = 8, decimation: Int = 1) {
        self.init(meanOf: [signal[...]], sampleRate: sampleRate, range: range, oversampling: oversampling, decimation: decimation)
    }

    /// Welch's method: the mean of the spectra of `segments` half-overlapping segments of
    /// `signal` (as long as fits: `2·count/(segments + 1)` samples each, from the start), each
    /// on the grid of the segment's own resolution `oversampling` times finer. The noise floor
    /// steadies while a steady tone keeps its power. `decimation` as in
    /// ``init(of:sampleRate:range:oversampling:decimation:)``.
    public init(
        welchOf signal: [Double], segments: Int, sampleRate: Double, range: ClosedRange<Double>, oversampling: Int = 8, decimation: Int = 1
    ) {
        precondition(segments >= 1, "Welch's method needs a segment")
        let length = Self.welchSegmentLength(count: signal.count, segments: segments)
        let starts = stride(from: 0, through: signal.count - length, by: max(1, length / 2)).prefix(segments)
        self.init(
            meanOf: starts.map { signal[$0..<($0 + length)] }, sampleRate: sampleRate, range: range, oversampling: oversampling,
            decimation: decimation)
    }

    /// The length of each of `segments` half-overlapping segments that fit in `count` samples
    /// (``init(welchOf:segments:sampleRate:range:oversampling:decimation:)``).
    public static func welchSegmentLength(count: Int, segments: Int) -> Int { 2 * count / (segments + 1) }

    /// The mean of the spectra of `segments` (all of one length), each mean-removed and
    /// Hann-windowed, on one grid; every `decimation`-th windowed sample transformed.
    private init(meanOf segments: [ArraySlice<Double>], sampleRate: Double, range: ClosedRange<Double>, oversampling: Int, decimation: Int) {
        precondition(decimation >= 1, "decimation below 1")
        let n = segments.first?.count ?? 0
        // Too short to decimate: every other sample of a few would be mostly the window's zeros.
        let decimation = n >= 2 * decimation ? decimation : 1
        precondition(segments.allSatisfy { $0.count == n }, "segments of different lengths")
        let duration = Double(n) / sampleRate
        lobeHalfWidth = 1 / duration
        // The Hann window is symmetric: its second half mirrors the first (half the cosines).
        var hann = [Double](repeating: 0, count: n)
        for i in 0..<(n + 1) / 2 {
            hann[i] = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(max(n - 1, 1)))
            hann[n - 1 - i] = hann[i]
        }
        let kept = stride(from: 0, to: n, by: decimation)
        let windowed = segments.map { segment in
            let mean = segment.reduce(0, +) / Double(max(n, 1))
            return kept.map { (segment[segment.startIndex + $0] - mean) * hann[$0] }
        }
        step = 1 / (duration * Double(oversampling))
        var frequencies: [Double] = []
        var f = range.lowerBound
        while f <= range.upperBound + 1e-12 {
            frequencies.append(f)
            f += step
        }
        self.frequencies = frequencies
        let summed = Self.summedDTFTPower(windowed, at: frequencies, sampleRate: sampleRate / Double(decimation))
        // The kept samples' transform is the whole's divided by `decimation` (in amplitude).
        let scale = Double(decimation * decimation) / Double(segments.count)
        power = scale != 1 ? summed.map { $0 * scale } : summed
    }

    /// The sum over `signals` of |DTFT|² at each of `frequencies` (Hz), by Goertzel's recursion:
    /// for a real signal, `s[n] = x[n] + 2cos(ω)·s[n-1] - s[n-2]` ends with
    /// `|X(ω)|² = s₁² + s₂² - 2cos(ω)·s₁s₂` (the last two states), one multiplication and two
    /// additions per sample and frequency where rotating a complex phasor takes ten. Sixteen
    /// frequencies run side by side in SIMD lanes, so the recursions, each a chain of dependent
    /// operations, overlap. In double precision the recursion's rounding stays within about 1e-11
    /// of the power over a minute of samples (``SpectrumTests`` checks it against the sum to 1e-9).
    static func summedDTFTPower(_ signals: [[Double]], at frequencies: [Double], sampleRate: Double) -> [Double] {
        typealias Lanes = SIMD16<Double>
        var power = [Double](repeating: 0, count: frequencies.count)
        var first = 0
        while first < frequencies.count {
            var coefficient = Lanes()
            for lane in 0..<Lanes.scalarCount {
                // Lanes past the last frequency repeat it; their results are dropped.
                coefficient[lane] = 2 * cos(2 * Double.pi * frequencies[min(first + lane, frequencies.count - 1)] / sampleRate)
            }
            var lanePower = Lanes()
            for signal in signals {
                var s1 = Lanes(), s2 = Lanes()
                for x in signal {
                    (s1, s2) = (coefficient * s1 - s2 + Lanes(repeating: x), s1)
                }
                lanePower += s1 * s1 + s2 * s2 - coefficient * s1 * s2
            }
            for lane in 0..<min(Lanes.scalarCount, frequencies.count - first) { power[first + lane] = lanePower[lane] }
            first += Lanes.scalarCount
        }
        return power
    }

    /// The strongest peak inside `band`, with its SNR against the rest of `band`.
    ///
    /// Returns `nil` when the band holds no power at all.
    public func peak(in band: ClosedRange<Double>) -> SpectralPeak? {
        var best = -1
        for i in frequencies.indices where band.contains(frequencies[i]) {
            if best < 0 || power[i] > power[best] { best = i }
        }
        guard best >= 0, power[best] > 0 else { return nil }
        var frequency = frequencies[best]
        if best > 0, best + 1 < power.count, power[best - 1] > 0, power[best + 1] > 0 {
            let (a, b, c) = (log(power[best - 1]), log(power[best]), log(power[best + 1]))
            let denominator = a - 2 * b + c
            if denominator < 0 {
                let offset = 0.5 * (a - c) / denominator
                frequency += max(-0.5, min(0.5, offset)) * step
            }
        }
        var signal = 0.0, noise = 0.0
        for i in frequencies.indices where band.contains(frequencies[i]) {
            let f = frequencies[i]
            if abs(f - frequency) <= lobeHalfWidth {
                signal += power[i]
            } else if abs(f - 2 * frequency) > lobeHalfWidth {
                noise += power[i]
            }
        }
        let snr = noise > 0 ? 10 * log10(signal / noise) : 60
        return SpectralPeak(frequency: frequency, snr: snr)
    }
}
