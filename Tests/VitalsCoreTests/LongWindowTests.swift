#if canImport(Glibc)
import Glibc
#endif
import Simulation
import Testing
import VitalsCore

/// The long window's pulse (PBV with the window's band-limited covariance) on dark skin in
/// shot noise, under a lamp, and with no pulse at all. Only the long window may report here:
/// the 10 s gate is out of reach and tracking is off.
@Suite struct LongWindowTests {
    /// A dark face's mean colour at 30 fps under a lamp flickering by `flicker` at 1 Hz: blood
    /// darkens the skin along its signature by `depth` at 78 bpm, and each channel's noise is
    /// shot noise (its relative size grows as the channel darkens: blue is the noisiest), all
    /// through the BT.709 gamma curve. The background follows the lamp.
    static func darkFace(depth: Double, flicker: Double, seed: UInt64) -> [RegionSample] {
        var random = RandomSource(seed: seed)
        let base = SIMD3<Double>(0.10, 0.059, 0.04)
        return (0..<(60 * 30)).map { i in
            let t = Double(i) / 30
            let lamp = 1 + flicker * sin(2 * Double.pi * t)
            let linear = base * lamp * (SIMD3(repeating: 1) - depth * PulseMethod.bloodSignature * sin(2 * Double.pi * 1.3 * t))
            var encoded = SIMD3<Double>.zero
            for c in 0..<3 {
                let noisy = linear[c] * (1 + 0.0004 / linear[c].squareRoot() * random.gaussian())
                encoded[c] = 255 * (1.099 * pow(max(noisy, 0), 0.45) - 0.099)
            }
            var sample = RegionSample(facePresent: true, meanRGB: encoded, skinPixels: 20_000, bounds: PixelRect(width: 100, height: 120))
            sample.backgroundLuma = 120 * lamp * (1 + 0.001 * random.gaussian())
            return sample
        }
    }

    /// The engine's settings with only the long window able to report.
    static func longWindowOnly(pbv: Bool = true, cancelsFlicker: Bool = true) -> VitalsConfiguration {
        var c = VitalsConfiguration()
        c.minimumSNR = 100
        c.trackingSeconds = 0
        c.longWindowUsesPBV = pbv
        c.cancelsFlicker = cancelsFlicker
        return c
    }

    /// Reports among `estimates`, and how many of them are within 3 bpm of 78.
    static func reports(_ estimates: [VitalsEstimate]) -> (all: Int, right: Int) {
        let rates = estimates.compactMap(\.heartRate)
        return (rates.count, rates.filter { abs($0 - 78) <= 3 }.count)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func inShotNoiseTheLongWindowsPBVFindsThePulseThatPOSMisses(seed: UInt64) throws {
        // 51 windows; the long window can speak from the 11th on (it needs 20 s of face).
        let face = Self.darkFace(depth: 0.0007, flicker: 0, seed: seed)
        let pbv = Self.reports(try PulseTrackingTests.estimates(face, Self.longWindowOnly()))
        let pos = Self.reports(try PulseTrackingTests.estimates(face, Self.longWindowOnly(pbv: false)))
        #expect(pbv.right == pbv.all && pbv.all >= 30 && pbv.all >= pos.all + 20, "PBV \(pbv), POS \(pos)")
    }

    @Test func underALampTheReferenceIsTakenOutOfEachChannelBeforeTheMix() throws {
        // Nulling a lamp 70 times stronger than the pulse costs the mix most of its gain
        // against the noise; regressing the lamp out first keeps it.
        var withReference = 0, without = 0
        for seed in [1, 2, 3] as [UInt64] {
            let face = Self.darkFace(depth: 0.0007, flicker: 0.05, seed: seed)
            let kept = Self.reports(try PulseTrackingTests.estimates(face, Self.longWindowOnly()))
            let nulled = Self.reports(try PulseTrackingTests.estimates(face, Self.longWindowOnly(cancelsFlicker: false)))
            #expect(kept.right == kept.all && nulled.right == nulled.all, "seed \(seed): \(kept) with the reference, \(nulled) without")
            withReference += kept.all
            without += nulled.all
        }
        #expect(withReference >= 30 && withReference >= without + 20, "\(withReference) with the reference, \(without) without")
    }

    @Test(arguments: [0, 0.05])
    func withoutAPulseTheLongWindowReportsNothing(flicker: Double) throws {
        for seed in [11, 12, 13, 14, 15] as [UInt64] {
            let face = Self.darkFace(depth: 0, flicker: flicker, seed: seed)
            let estimates = try PulseTrackingTests.estimates(face, Self.longWindowOnly())
            #expect(Self.reports(estimates).all == 0, "seed \(seed): \(estimates.compactMap(\.heartRate))")
        }
    }
}
