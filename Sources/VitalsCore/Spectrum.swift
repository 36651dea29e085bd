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
/// The signal is Hann-windowed and its discrete-time Fourier transform evaluated directly on a
/// grid eight times finer than the natural resolution (`sampleRate / count`), so the peak is
/// located well within a bin; a parabola through the log power of the three highest grid points
/// refines it further.
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
    public init(of signal: [Double], sampleRate: Double, range: ClosedRange<Double>, oversampling: Int = 8) {
        let n = signal.count
        let duration = Double(n) / sampleRate
        lobeHalfWidth = 1 / duration
        let mean = signal.reduce(0, +) / Double(max(n, 1))
        var windowed = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let hann = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(max(n - 1, 1)))
            windowed[i] = (signal[i] - mean) * hann
        }
        step = 1 / (duration * Double(oversampling))
        var frequencies: [Double] = []
        var f = range.lowerBound
        while f <= range.upperBound + 1e-12 {
            frequencies.append(f)
            f += step
        }
        self.frequencies = frequencies
        self.power = Self.dtftPower(windowed, at: frequencies, sampleRate: sampleRate)
    }

    /// |DTFT|² of `signal` at each of `frequencies` (Hz). Each frequency rotates a unit phasor
    /// instead of calling sin and cos per sample; eight frequencies run side by side in SIMD
    /// lanes, so the rotations, each a chain of dependent multiplications, overlap. Every lane
    /// does exactly the arithmetic of a one-frequency loop.
    static func dtftPower(_ signal: [Double], at frequencies: [Double], sampleRate: Double) -> [Double] {
        typealias Lanes = SIMD8<Double>
        var power = [Double](repeating: 0, count: frequencies.count)
        var first = 0
        while first < frequencies.count {
            var wr = Lanes(repeating: 1), wi = Lanes()
            for lane in 0..<Lanes.scalarCount {
                // Lanes past the last frequency repeat it; their results are dropped.
                let theta = -2 * Double.pi * frequencies[min(first + lane, frequencies.count - 1)] / sampleRate
                (wr[lane], wi[lane]) = (cos(theta), sin(theta))
            }
            var zr = Lanes(repeating: 1), zi = Lanes(), re = Lanes(), im = Lanes()
            for x in signal {
                re += x * zr
                im += x * zi
                (zr, zi) = (zr * wr - zi * wi, zr * wi + zi * wr)
            }
            let lanePower = re * re + im * im
            for lane in 0..<min(Lanes.scalarCount, frequencies.count - first) { power[first + lane] = lanePower[lane] }
            first += Lanes.scalarCount
        }
        return power
    }

    /// The mean of spectra computed on the same grid (Welch's method over segments of a signal):
    /// the noise floor steadies while a steady tone keeps its power.
    ///
    /// - Precondition: `spectra` is not empty and every spectrum has the same grid.
    public init(averaging spectra: [PowerSpectrum]) {
        precondition(!spectra.isEmpty && spectra.allSatisfy { $0.power.count == spectra[0].power.count }, "spectra on different grids")
        frequencies = spectra[0].frequencies
        step = spectra[0].step
        lobeHalfWidth = spectra[0].lobeHalfWidth
        power = spectra.dropFirst().reduce(spectra[0].power) { sum, spectrum in zip(sum, spectrum.power).map { $0 + $1 } }
            .map { $0 / Double(spectra.count) }
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
