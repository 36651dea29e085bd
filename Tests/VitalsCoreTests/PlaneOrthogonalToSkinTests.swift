#if canImport(Glibc)
import Glibc
#endif
import Simulation
import Testing
import VitalsCore

/// The linear-time POS against algorithm 1 of Wang et al. (2017) as the paper states it: every
/// window normalised, projected and mixed afresh.
@Suite struct PlaneOrthogonalToSkinTests {
    /// Algorithm 1, window by window (O(n·L)).
    static func algorithmOne(_ rgb: [SIMD3<Double>], sampleRate: Double) -> [Double] {
        let n = rgb.count
        let length = Int((1.6 * sampleRate).rounded(.up))
        var h = [Double](repeating: 0, count: n)
        guard n >= length else { return h }
        for last in (length - 1)..<n {
            let window = rgb[(last - length + 1)...last]
            let mean = window.reduce(SIMD3<Double>.zero, +) / Double(length)
            guard mean.x > 0, mean.y > 0, mean.z > 0 else { continue }
            let s1 = window.map { $0.y / mean.y - $0.z / mean.z }
            let s2 = window.map { $0.y / mean.y + $0.z / mean.z - 2 * $0.x / mean.x }
            func deviation(_ x: [Double]) -> Double {
                let m = x.reduce(0, +) / Double(x.count)
                return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count - 1)).squareRoot()
            }
            let alpha = deviation(s2) > 0 ? deviation(s1) / deviation(s2) : 0
            let mix = zip(s1, s2).map { $0 + alpha * $1 }
            let m = mix.reduce(0, +) / Double(length)
            for (k, value) in mix.enumerated() { h[last - length + 1 + k] -= value - m }
        }
        return h
    }

    /// A face's colours: skin at `level` (0…255 scale) with a pulse, a slow drift, a lamp's
    /// flicker and camera noise.
    static func trace(seed: UInt64, level: Double, count: Int, rate: Double = 30) -> [SIMD3<Double>] {
        var random = RandomSource(seed: seed)
        let skin = SIMD3<Double>(1.0, 0.72, 0.55) * level
        let pulseHz = 0.8 + 2 * random.uniform(), lampHz = 0.5 + 3 * random.uniform()
        return (0..<count).map { i in
            let t = Double(i) / rate
            let blood = 0.0005 * sin(2 * Double.pi * pulseHz * t)
            let light = 1 + 0.02 * sin(2 * Double.pi * 0.07 * t) + 0.003 * sin(2 * Double.pi * lampHz * t)
            let noise = SIMD3(random.gaussian(), random.gaussian(), random.gaussian()) * 0.002 * level
            return skin * light * (1 - blood * PulseMethod.bloodSignature) + noise
        }
    }

    static func rms(_ x: ArraySlice<Double>) -> Double { (x.map { $0 * $0 }.reduce(0, +) / Double(max(1, x.count))).squareRoot() }

    static func agreement(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) }.max()! / rms(b[...])
    }

    @Test(arguments: [(1, 180.0), (2, 40.0), (3, 6.0), (4, 250.0)] as [(UInt64, Double)])
    func matchesAlgorithmOneWindowByWindow(seed: UInt64, level: Double) {
        for count in [48, 49, 300, 901] {
            let rgb = Self.trace(seed: seed, level: level, count: count)
            let fast = PulseMethod.pos(rgb, sampleRate: 30)
            #expect(fast.count == count)
            #expect(Self.agreement(fast, Self.algorithmOne(rgb, sampleRate: 30)) < 1e-8, "seed \(seed), \(count) samples")
        }
    }

    @Test(arguments: [7, 8, 9] as [UInt64])
    func windowsWithoutLightAddNothingAndTheRestStillMatches(seed: UInt64) {
        // A stretch of black frames (a covered lens) in the middle: its windows are skipped, and
        // the samples after it match as well as those before.
        var rgb = Self.trace(seed: seed, level: 120.3, count: 400)
        for i in 150..<230 { rgb[i] = .zero }
        let fast = PulseMethod.pos(rgb, sampleRate: 30)
        let reference = Self.algorithmOne(rgb, sampleRate: 30)
        // Samples whose every window is wholly lit or wholly black. A window holding a frame or
        // two of light beside black ones normalises each channel by a mean of those few frames,
        // so both projections barely vary and their ratio is a ratio of rounding errors: there
        // the two algorithms agree to about 1e-7 of the RMS, not better.
        let settled = Array(0..<103) + Array(277..<400)
        let rms = Self.rms(reference[...])
        #expect(settled.map { abs(fast[$0] - reference[$0]) }.max()! / rms < 1e-8)
        #expect(zip(fast, reference).allSatisfy { abs($0 - $1) < 1e-5 * rms })
        #expect(fast[160..<220].allSatisfy { abs($0) < 1e-9 * rms })
    }

    @Test func aFrozenStretchInsideADriftingTraceGivesNoSignal() {
        // The camera repeats one frame for five seconds (values not exact in binary), after
        // seconds of drift and pulse: the windows wholly inside the stretch add nothing.
        var rgb = Self.trace(seed: 10, level: 150, count: 300)
        for i in 150..<300 { rgb[i] = SIMD3(120.1, 90.3, 70.7) }
        let fast = PulseMethod.pos(rgb, sampleRate: 30)
        let signal = Self.rms(fast[0..<150])
        // Samples from 197 on are covered only by windows inside the stretch.
        #expect(fast[197...].allSatisfy { abs($0) < 1e-9 * signal })
    }

    @Test func aTraceShorterThanAWindowGivesZeros() {
        let rgb = Self.trace(seed: 8, level: 100, count: 47)
        #expect(PulseMethod.pos(rgb, sampleRate: 30) == [Double](repeating: 0, count: 47))
    }

    @Test func aConstantTraceGivesNoSignal() {
        // Values not exact in binary, so the running sums round.
        let rgb = [SIMD3<Double>](repeating: SIMD3(120.1, 90.3, 70.7), count: 200)
        #expect(PulseMethod.pos(rgb, sampleRate: 30).allSatisfy { abs($0) < 1e-12 })
    }
}
