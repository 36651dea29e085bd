import EchoCancellation
import Foundation
import Kiosk
import TestSupport
import Testing

/// The filter's path after the microphone lost audio (`EchoCancellingFilter` with `followsLoss`):
/// the microphone's stamps after the loss put it a few samples off where it ran before (as their
/// jitter does), the frames held back over the next reply's start find that move with the echo
/// path the canceller learned, undo it, and the reply is cancelled as well as before the loss.
@Suite struct EchoLossRecoveryTests {
    /// A reply of speech-like bursts, played by the speaker and heard by the microphone through a
    /// short room, with the microphone losing 100 ms `lossAt` samples in, after which its stamps
    /// are `stampError` samples late; the filter's replies, in order.
    static func replies(lossAt: Int, stampError: Int) -> [ReplyEcho] {
        let block = 320, replyLength = 6 * 16_000, pause = 24_000
        var speaker: [Int16] = []
        for index in 0..<3 {
            speaker += EchoDelayEstimatorTests.bursts(samples: replyLength, seed: UInt64(index + 1)).map { Int16(clamping: Int(($0 * 32_767).rounded())) }
            speaker += [Int16](repeating: 0, count: pause)
        }
        var random = SplitMix64(seed: 17)
        let response = (0..<800).map { tap -> Float in (tap == 0 ? 1 : 0) + Float(random.nextGaussian()) * 0.02 * exp(-Float(tap) / 200) }
        let delay = 48
        let origin = ContinuousClock.now
        func instant(_ sample: Int) -> ContinuousClock.Instant { origin + .microseconds(sample * 1_000_000 / 16_000) }
        let reference = EchoReference(origin: origin)
        var filter = EchoCancellingFilter(reference: reference, tailMilliseconds: 100)
        var replies: [ReplyEcho] = []
        var written = 0, heard = 0, lost = false
        var noise = SplitMix64(seed: 5)
        while heard + block <= speaker.count {
            while written < min(speaker.count, heard + block + 1_600) {
                reference.played(Array(speaker[written..<written + block]), heardFrom: instant(written))
                written += block
            }
            if !lost && heard >= lossAt {  // 100 ms never reaches the filter
                lost = true
                heard += 1_600
                continue
            }
            let samples = (heard..<heard + block).map { index -> Float in
                var echo: Float = 0
                for (tap, weight) in response.enumerated() where index - delay - tap >= 0 { echo += Float(speaker[index - delay - tap]) * weight * 0.4 }
                return (echo + Float(noise.nextGaussian()) * 16) / 32_768
            }
            let stamp = heard + (heard > lossAt ? stampError : 0)
            _ = filter.process(samples, capturedFrom: instant(stamp), followsLoss: lost && heard == lossAt + 1_600)
            heard += block
            if filter.repliesEnded > replies.count, let reply = filter.lastReply { replies.append(reply) }
        }
        return replies
    }

    @Test(arguments: [-40, -24, 0, 13, 30])
    func aMoveAfterALossIsFoundAndUndone(stampError: Int) throws {
        // The loss falls in the pause before the third reply: its start is what is held back.
        let lossAt = 2 * (6 * 16_000 + 24_000) - 8_000
        let replies = Self.replies(lossAt: lossAt, stampError: stampError)
        try #require(replies.count == 3)
        let before = try #require(replies[1].erle), after = try #require(replies[2].erle)
        let lead = try #require(replies[2].leadsAfterLoss.first, "the move was searched for")
        print("loss with stamps \(stampError) samples late: found \(lead.shift) (match \(String(format: "%.3f", lead.correlation))); ERLE before \(String(format: "%.1f", before)) dB, after \(String(format: "%.1f", after)) dB, start \(String(format: "%.1f", replies[2].onsetERLE ?? .nan)) dB")
        #expect(replies[2].jumps.losses == 1)
        #expect(lead.shift == -stampError, "the reference read \(stampError) samples ahead is moved back")
        #expect(lead.correlation > 0.9)
        #expect(after >= before - 3, "cancelled as well as before the loss")
        #expect((replies[2].onsetERLE ?? 0) >= 15, "the reply's start shows the echo cancelled (the start check's 15 dB)")
    }
}
