#if canImport(Glibc)
import Glibc
#endif
import Simulation
import Testing
import VitalsCore

@Suite struct SpectrumTests {
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func locatesAToneWellWithinABin(seed: UInt64) {
        var random = RandomSource(seed: seed)
        let frequency = 0.7 + random.uniform() * 3.3  // anywhere in 42–240 bpm
        let rate = 30.0
        let signal = (0..<300).map { sin(2 * Double.pi * frequency * Double($0) / rate + 1) + 0.3 * random.gaussian() }
        let spectrum = PowerSpectrum(of: signal, sampleRate: rate, range: 0.5...4.2)
        let peak = spectrum.peak(in: 0.7...4.0)
        // A bin is 0.1 Hz (6 bpm) for 10 s: the peak must be within 0.3 bpm.
        #expect(abs((peak?.frequency ?? 0) - frequency) * 60 < 0.3)
        #expect((peak?.snr ?? -99) > 5)
    }

    @Test func noiseAloneHasALowSNR() {
        var random = RandomSource(seed: 99)
        var snrs: [Double] = []
        for _ in 0..<50 {
            let noise = (0..<300).map { _ in random.gaussian() }
            snrs.append(PowerSpectrum(of: noise, sampleRate: 30, range: 0.5...4.2).peak(in: 0.7...4.0)?.snr ?? 0)
        }
        #expect(snrs.max()! < -2)
    }

    /// The spectrum (Goertzel's recursion) against the DTFT summed directly with a sine and
    /// cosine per sample, on the mean-removed Hann-windowed signal, over a minute of samples and
    /// down to 0.1 Hz, where the recursion's rounding grows most.
    @Test(arguments: [60, 300, 1200, 1801] as [Int])
    func powerIsTheDirectlySummedTransform(count: Int) {
        var random = RandomSource(seed: UInt64(count))
        let rate = 30.0
        let signal = (0..<count).map { 5 + sin(2 * Double.pi * 1.3 * Double($0) / rate) + random.gaussian() }
        let spectrum = PowerSpectrum(of: signal, sampleRate: rate, range: 0.1...7, oversampling: 3)
        let mean = signal.reduce(0, +) / Double(count)
        let windowed = signal.indices.map { (signal[$0] - mean) * (0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(count - 1))) }
        var worst = 0.0
        for (f, power) in zip(spectrum.frequencies, spectrum.power) {
            var re = 0.0, im = 0.0
            for (n, x) in windowed.enumerated() {
                re += x * cos(2 * Double.pi * f * Double(n) / rate)
                im -= x * sin(2 * Double.pi * f * Double(n) / rate)
            }
            worst = max(worst, abs(power - (re * re + im * im)) / (re * re + im * im))
        }
        #expect(worst < 1e-9, "relative error \(worst)")
    }

    /// Every other sample of a signal band-passed as a pulse is (30 Hz, band to 5 Hz) gives the
    /// whole signal's spectrum: the copy that lands in the band comes from above 10.8 Hz, where
    /// the band-pass has cut it by over 80 dB; the peak and its SNR are the same. A signal not
    /// band-passed is not, which is why the decimation is the caller's to allow.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func everyOtherSampleOfABandPassedSignalKeepsItsSpectrum(seed: UInt64) {
        var random = RandomSource(seed: seed)
        let frequency = 0.7 + 3.3 * random.uniform()
        let raw = (0..<1200).map { 0.3 * sin(2 * Double.pi * frequency * Double($0) / 30) + random.gaussian() }
        let pulse = BandPass(band: 0.49...5, sampleRate: 30).apply(raw, padding: 30)
        let whole = PowerSpectrum(welchOf: pulse, segments: 7, sampleRate: 30, range: 0.5...4.2, oversampling: 4)
        let halved = PowerSpectrum(welchOf: pulse, segments: 7, sampleRate: 30, range: 0.5...4.2, oversampling: 4, decimation: 2)
        for (a, b) in zip(whole.power, halved.power) { #expect(abs(a - b) <= 1e-3 * a) }
        let (peak, halvedPeak) = (whole.peak(in: 0.7...4)!, halved.peak(in: 0.7...4)!)
        #expect(abs(peak.frequency - halvedPeak.frequency) * 60 < 0.01)
        #expect(abs(peak.snr - halvedPeak.snr) < 0.01)
        let unfiltered = PowerSpectrum(of: raw, sampleRate: 30, range: 0.5...4.2, decimation: 2)
        let unfilteredWhole = PowerSpectrum(of: raw, sampleRate: 30, range: 0.5...4.2)
        #expect(zip(unfilteredWhole.power, unfiltered.power).contains { abs($0 - $1) > 0.1 * $0 })
    }

    /// Welch's mean over segments is the mean of the segments' own spectra.
    @Test func welchIsTheMeanOfTheSegmentsSpectra() {
        var random = RandomSource(seed: 3)
        let signal = (0..<900).map { _ in random.gaussian() }
        let welch = PowerSpectrum(welchOf: signal, segments: 5, sampleRate: 30, range: 0.5...4.2, oversampling: 4)
        let parts = stride(from: 0, through: 600, by: 150).map { PowerSpectrum(of: Array(signal[$0..<($0 + 300)]), sampleRate: 30, range: 0.5...4.2, oversampling: 4) }
        #expect(welch.frequencies == parts[0].frequencies)
        for k in welch.power.indices {
            let mean = parts.map { $0.power[k] }.reduce(0, +) / 5
            #expect(abs(welch.power[k] - mean) <= 1e-12 * mean)
        }
    }

    /// Signals band-passed side by side in SIMD lanes come out as each does alone.
    @Test func bandPassInLanesIsEachSignalAlone() {
        var random = RandomSource(seed: 8)
        var signals: [[Double]] = []
        for k in 0..<4 {
            let step = 0.3 * Double(k + 1)
            signals.append((0..<400).map { (i: Int) -> Double in Double(k) + sin(Double(i) * step) + random.gaussian() })
        }
        let filter = BandPass(band: 0.5...5, sampleRate: 30)
        let lanes = filter.apply(lanes: (0..<400).map { SIMD4(signals[0][$0], signals[1][$0], signals[2][$0], signals[3][$0]) }, padding: 30)
        for k in 0..<4 { #expect(lanes.map { $0[k] } == filter.apply(signals[k], padding: 30)) }
    }

    @Test func bandPassKeepsTheBandAndRemovesTheRest() {
        let rate = 30.0
        func tone(_ f: Double) -> [Double] { (0..<600).map { sin(2 * Double.pi * f * Double($0) / rate) } }
        func rms(_ x: [Double]) -> Double { (x[100..<500].map { $0 * $0 }.reduce(0, +) / 400).squareRoot() }
        let filter = BandPass(band: 0.7...4.0, sampleRate: rate)
        #expect(rms(filter.apply(tone(1.5), padding: 30)) > 0.6)
        #expect(rms(filter.apply(tone(0.1), padding: 30)) < 0.05)
        #expect(rms(filter.apply(tone(10), padding: 30)) < 0.05)
    }

    @Test func badConfigurationIsNamed() {
        var c = VitalsConfiguration()
        c.windowSeconds = 2
        #expect(throws: ConfigurationError.self) { try c.validate() }
        c = VitalsConfiguration()
        c.sampleRate = 6
        #expect(throws: ConfigurationError.self) { try VitalsAnalyzer(configuration: c) }
        c = VitalsConfiguration()
        c.minimumBeatAcceptance = 1.5
        #expect(throws: ConfigurationError.self) { try c.validate() }
        // A lengthened window no longer than the long window, longer than a minute, or behind no
        // gate; with the long window off, lengthening is off and its steps are not looked at.
        for (seconds, gate) in [(20.0, -5.0), (90, -5), (45, .nan)] {
            c = VitalsConfiguration()
            c.lengthenedWindows = [LengthenedWindow(seconds: seconds, minimumSNR: gate)]
            #expect(throws: ConfigurationError.self) { try c.validate() }
            c.longWindowSeconds = 0
            #expect(throws: Never.self) { try c.validate() }
        }
        c = VitalsConfiguration()
        c.lengthenedWindows = [LengthenedWindow(seconds: 45, minimumSNR: -6)]
        #expect(throws: Never.self) { try c.validate() }
        c = VitalsConfiguration()
        c.maximumTimingNoiseShare = -1
        #expect(throws: ConfigurationError.self) { try c.validate() }
    }
}
