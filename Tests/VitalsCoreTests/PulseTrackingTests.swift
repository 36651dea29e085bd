#if canImport(Glibc)
import Glibc
#endif
import Simulation
import Testing
import VitalsCore

/// PBV against POS on a printed face under a flickering lamp, and the analyzer following a rate
/// it has found through windows too weak to report on their own, and no longer.
@Suite struct PulseTrackingTests {
    /// A dark face's mean colour at 30 fps: blood darkens the skin along blood's signature by
    /// `depth` at `rate` Hz, seen by a camera whose exposure steps by 1/32 stop now and then
    /// (through the gamma curve's offset a step changes dark channels more than light ones: not
    /// a pure change of intensity), in shot noise (``FaceTraces/encode(_:random:)``).
    static func trace(seconds: Double, rate: (Double) -> Double, depth: (Double) -> Double, seed: UInt64) -> [RegionSample] {
        var random = RandomSource(seed: seed)
        var exposure = 1.0, phase = 0.0
        return (0..<Int(seconds * 30)).map { i in
            let t = Double(i) / 30
            phase += 2 * Double.pi * rate(t) / 30
            if random.uniform() < 0.03 { exposure *= random.uniform() < 0.5 ? 1.022 : 1 / 1.022 }
            let linear = FaceTraces.darkSkin * exposure * (SIMD3(repeating: 1) - depth(t) * PulseMethod.bloodSignature * sin(phase))
            let encoded = FaceTraces.encode(linear, random: &random)
            return RegionSample(facePresent: true, meanRGB: encoded, skinPixels: 20_000, bounds: PixelRect(width: 100, height: 120))
        }
    }

    @Test(arguments: [1] as [UInt64])
    func pbvIgnoresALampThatPOSTakesForAPulse(seed: UInt64) throws {
        // A printed face under a lamp flickering 10% at 1 Hz, through the kiosk-webcam camera
        // (auto-exposure chasing the lamp, the gamma curve's offset): POS's plane lets the
        // lamp through as a colour change; PBV nulls whatever direction it takes. With a
        // patient in the photo's place, PBV still finds the pulse.
        var scene = Scenario.kioskWebcam(seed: seed, duration: 20)
        scene.flickerDepth = 0.1
        scene.flickerFrequency = 1
        scene.skinTone = .fitzpatrick(3)
        scene.subject = .photo
        let pos = VitalsConfiguration.plain
        var pbv = VitalsConfiguration.plain
        pbv.method = .pbv
        let photo = try PipelineEvaluation.score(scene, configurations: [pos, pbv])
        #expect(photo[0].falseReportRate > 0.5, "POS \(photo[0])")
        #expect(photo[1].noPulseWindows > 10 && photo[1].falseReports == 0, "PBV \(photo[1])")
        scene.subject = .patient
        scene.heartRate = .constant(66 + 8 * Double(seed))
        let patient = try PipelineEvaluation.score(scene, configurations: [pbv])[0]
        #expect(patient.coverage >= 0.8 && patient.meanAbsoluteError <= 2, "PBV \(patient)")
    }

    @Test func aRateOnceFoundIsFollowedThroughWeakWindowsButNoiseStartsNothing() throws {
        // Clear for the first 14 s, then a third as deep: the weak part alone rarely clears the
        // gates; followed from where it was, it is reported, and right.
        var weakCoverage: [Double] = []
        for tracking in [false, true] {
            var c = VitalsConfiguration()
            c.longWindowSeconds = 0
            // POS's windows alone: PBV tried after POS reads some of the weak part by itself
            // (its mix weighs down these traces' independent channel noise).
            c.triesPBVAfterPOS = false
            if !tracking { c.trackingSeconds = 0 }
            var reported = 0, weak = 0
            var errors: [Double] = []
            for seed: UInt64 in 10..<14 {
                let samples = Self.trace(seconds: 40, rate: { 1.2 + 0.004 * $0 }, depth: { $0 < 14 ? 0.004 : 0.0018 }, seed: seed)
                for e in try FaceTraces.estimates(samples, c) where e.time >= 20 {
                    weak += 1
                    if let rate = e.heartRate {
                        reported += 1
                        errors.append(abs(rate - 60 * (1.2 + 0.004 * e.time)))
                    }
                }
            }
            weakCoverage.append(Double(reported) / Double(weak))
            #expect(errors.reduce(0, +) <= 2 * Double(max(1, errors.count)) && errors.allSatisfy { $0 < 5 }, "\(errors)")
        }
        #expect(weakCoverage[1] >= weakCoverage[0] + 0.2, "without tracking \(weakCoverage[0]), with \(weakCoverage[1])")
        // No pulse at all: nothing to follow, nothing reported.
        for seed: UInt64 in 20..<24 {
            let samples = Self.trace(seconds: 40, rate: { _ in 1.2 }, depth: { _ in 0 }, seed: seed)
            #expect(try FaceTraces.estimates(samples, VitalsConfiguration()).compactMap(\.heartRate).isEmpty)
        }
    }

    @Test func trackingLapsesOnceNoWindowPassesAGate() throws {
        // A clear pulse for 15 s, then none, the face still there (a patient swapped for a
        // photo, say): the last window that passed a gate is centred before 20 s at the latest,
        // so nothing may be reported for windows centred more than 10 s after that.
        for seed: UInt64 in 30..<34 {
            let samples = Self.trace(seconds: 45, rate: { _ in 1.1 }, depth: { $0 < 15 ? 0.004 : 0 }, seed: seed)
            let estimates = try FaceTraces.estimates(samples, VitalsConfiguration())
            #expect(estimates.contains { $0.time < 12 && $0.heartRate != nil })
            let late = estimates.filter { $0.time > 30 && $0.heartRate != nil }
            #expect(late.isEmpty, "\(late.map(\.time))")
        }
    }
}
