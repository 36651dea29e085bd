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
