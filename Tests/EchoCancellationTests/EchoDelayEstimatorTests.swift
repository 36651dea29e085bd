import EchoCancellation
import Foundation
import TestSupport
import Testing

/// The echo's place from the loudness of 10 ms frames: found at the lag it was put, whichever
/// side of the reference, through a room's reverberation and noise; not found in a microphone
/// that hears something else.
@Suite struct EchoDelayEstimatorTests {
    /// Speech-like sound: noise in bursts of 80 to 300 ms at varying levels, with pauses.
    static func bursts(samples count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        var samples: [Float] = []
        while samples.count < count {
            let level = Float.random(in: 0.02...0.3, using: &random)
            samples += (0..<Int.random(in: 1_280...4_800, using: &random)).map { _ in Float(random.nextGaussian()) * level }
            samples += (0..<Int.random(in: 800...4_800, using: &random)).map { _ in Float(random.nextGaussian()) * 0.0005 }
        }
        return Array(samples.prefix(count))
    }

    /// The microphone's frames: `reference` `delay` samples later (earlier when negative), through
    /// a decaying tail, at a third of its level, over noise.
    static func heard(_ reference: [Float], delay: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        var heard = (0..<reference.count).map { _ in Float(random.nextGaussian()) * 0.0005 }
        let tail = (0..<1_600).map { Float(random.nextGaussian()) * 0.05 * exp(-Float($0) / 400) }
        for (index, sample) in reference.enumerated() where sample != 0 {
            let at = index + delay
            guard at >= 0 && at < heard.count else { continue }
            heard[at] += sample / 3
            for (tap, weight) in tail.enumerated() where at + tap + 1 < heard.count { heard[at + tap + 1] += sample * weight }
        }
        return heard
    }

    static func estimate(microphone: [Float], reference: [Float]) -> EchoDelayEstimator.Estimate? {
        var estimator = EchoDelayEstimator()
        func int16(_ samples: ArraySlice<Float>) -> [Int16] { samples.map { Int16(clamping: Int(($0 * 32_767).rounded())) } }
        for start in stride(from: 0, to: reference.count - 159, by: 160) {
            estimator.add(microphone: int16(microphone[start..<start + 160]), reference: int16(reference[start..<start + 160]))
        }
        return estimator.estimate()
    }

    @Test(arguments: [-2_400, -700, 0, 330, 1_600, 4_800])
    func findsTheEchoWhereItWasPut(delay: Int) throws {
        let reference = Self.bursts(samples: 48_000, seed: UInt64(delay + 10_000))
        let microphone = Self.heard(reference, delay: delay, seed: 3)
        let found = try #require(Self.estimate(microphone: microphone, reference: reference))
        // Within a frame and a half: an echo across two frames, and the room's tail, smear it.
        #expect(abs(found.lag * 160 - delay) <= 240, "lag \(found.lag) frames for \(delay) samples")
        #expect(found.correlation >= 0.8)
    }

    @Test func findsNothingInAMicrophoneThatHearsSomethingElse() throws {
        let reference = Self.bursts(samples: 48_000, seed: 1)
        let patient = Self.bursts(samples: 48_000, seed: 2)
        let found = try #require(Self.estimate(microphone: patient, reference: reference))
        #expect(found.correlation < 0.6, "\(found)")
    }
}
