import EchoCancellation
import Foundation
import Kiosk
import TestSupport
import Testing

/// The filter's path after either side lost audio: the microphone (`EchoCancellingFilter` with
/// `followsLoss`), whose stamps after the loss put it a few samples off where it ran before (as
/// their jitter does), or the speaker, whose device ran out and played a gap the timeline does
/// not know of (`EchoReference.speakerLost()`), its stamps after it a few samples off. The
/// frames held back over the next reply's start find that move with the echo path the canceller
/// learned, undo it, and the reply is cancelled as well as before the loss.
@Suite struct EchoLossRecoveryTests {
    /// The side that lost audio: the microphone, or the speaker's device ran out, reported as an
    /// underrun or (`speakerUnreported`) seen only in the stamps after it.
    enum Side { case microphone, speaker, speakerUnreported }

    /// A reply of speech-like bursts, played by the speaker and heard by the microphone through a
    /// short room, with `side` losing 100 ms `lossAt` samples in, after which its stamps are
    /// `stampError` samples late (the speaker's first one `firstStampExtra` more); the filter's
    /// replies, in order.
    static func replies(lossAt: Int, stampError: Int, side: Side = .microphone, firstStampExtra: Int = 0) -> [ReplyEcho] {
        let block = 320, replyLength = 6 * 16_000, pause = 24_000, gap = 1_600
        var speaker: [Int16] = []
        for index in 0..<3 {
            speaker += EchoDelayEstimatorTests.bursts(samples: replyLength, seed: UInt64(index + 1)).map { Int16(clamping: Int(($0 * 32_767).rounded())) }
            speaker += [Int16](repeating: 0, count: pause)
        }
        // What the room heard: the speaker's device, running out, plays a gap of silence.
        let heardSpeaker = side != .microphone ? Array(speaker[..<lossAt]) + [Int16](repeating: 0, count: gap) + speaker[lossAt...] : speaker
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
                var stamp = written
                if side != .microphone && written >= lossAt {
                    if side == .speaker && written == lossAt { reference.speakerLost() }
                    stamp += gap + stampError + (written == lossAt ? firstStampExtra : 0)
                }
                reference.played(Array(speaker[written..<written + block]), heardFrom: instant(stamp))
                written += block
            }
            if side == .microphone && !lost && heard >= lossAt {  // 100 ms never reaches the filter
                lost = true
                heard += gap
                continue
            }
            let samples = (heard..<heard + block).map { index -> Float in
                var echo: Float = 0
                for (tap, weight) in response.enumerated() where index - delay - tap >= 0 && index - delay - tap < heardSpeaker.count {
                    echo += Float(heardSpeaker[index - delay - tap]) * weight * 0.4
                }
                return (echo + Float(noise.nextGaussian()) * 16) / 32_768
            }
            let stamp = heard + (side == .microphone && heard > lossAt ? stampError : 0)
            _ = filter.process(samples, capturedFrom: instant(stamp), followsLoss: lost && heard == lossAt + gap)
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

extension EchoLossRecoveryTests {
    /// A gap the speaker's device played: how it was seen, where, and its stamps after it.
    struct SpeakerGap: Sendable, CustomTestStringConvertible {
        var how: String
        var side: Side
        var lossAt: Int
        var stampError: Int
        var firstStampExtra = 0
        var testDescription: String { "speaker \(how), stamps \(stampError) samples late" }
    }

    /// In the pause before the third reply, and a second into it.
    static let beforeThirdReply = 2 * (6 * 16_000 + 24_000) - 8_000, inThirdReply = 2 * (6 * 16_000 + 24_000) + 16_000

    /// Ran out (an underrun reported) before a reply; a gap reported by no underrun, seen only in
    /// the stamps, which move the side after eight blocks (a jump as far off the sample as they
    /// are); ran out a second into a reply with the first stamp after it 37 samples later than
    /// the rest (the side starts from it, settles by the next eight, and the blocks placed
    /// before it settled move with it, so one move is left to find).
    static let speakerGaps: [SpeakerGap] =
        [-40, 0, 13, 30].map { SpeakerGap(how: "ran out", side: .speaker, lossAt: beforeThirdReply, stampError: $0) }
        + [-40, 13].map { SpeakerGap(how: "gap in its stamps only", side: .speakerUnreported, lossAt: beforeThirdReply, stampError: $0) }
        + [-20, 13].map { SpeakerGap(how: "ran out mid-reply", side: .speaker, lossAt: inThirdReply, stampError: $0, firstStampExtra: 37) }

    /// Without the move looked for (the speaker's side merely started again from its stamps), the
    /// third reply was cancelled by 12.6-13.2 dB and its start by 2.6-2.9 dB where the reply before
    /// had 66.5 (ran out, stamps 13, 30 and 40 samples off): the package VM test's signature when
    /// the kiosk heard itself with no loss logged. Mid-reply, with the blocks placed before the
    /// side settled left where the first stamp put them: 10.6 dB.
    @Test(arguments: speakerGaps)
    func aGapTheSpeakerPlayedIsFoundAndMovedBack(gap: SpeakerGap) throws {
        let replies = Self.replies(lossAt: gap.lossAt, stampError: gap.stampError, side: gap.side, firstStampExtra: gap.firstStampExtra)
        try #require(replies.count == 3)
        let before = try #require(replies[1].erle), after = try #require(replies[2].erle)
        let lead = replies[2].leadsAfterLoss.first
        print("\(gap.testDescription): found \(lead.map { "\($0.shift) (match \(String(format: "%.3f", $0.correlation)))" } ?? "nothing"); ERLE before \(String(format: "%.1f", before)) dB, after \(String(format: "%.1f", after)) dB, checked \(String(format: "%.1f", replies[2].onsetERLE ?? .nan)) dB")
        // Counted with the reply in whose second after it the gap came, or with the third.
        let (losses, jumps) = (replies.map(\.jumps.speakerLosses).reduce(0, +), replies.map(\.jumps.speaker).reduce(0, +))
        #expect(gap.side == .speaker ? losses == 1 && jumps == 0 : losses == 0 && jumps == 1, "\(losses) losses, \(jumps) jumps")
        #expect(replies.map(\.jumps.losses).reduce(0, +) == 0, "the microphone lost nothing")
        #expect(replies[0].leadsAfterLoss.isEmpty && replies[1].leadsAfterLoss.isEmpty && replies[2].leadsAfterLoss.count == 1, "searched once")
        #expect(lead?.shift == gap.stampError, "the reference placed \(gap.stampError) samples late is read that much further on")
        #expect((lead?.correlation ?? 0) > 0.9)
        #expect(after >= before - 3, "cancelled as well as before the gap")
        #expect((replies[2].onsetERLE ?? 0) >= 15, "the echo shown cancelled after the gap (the start check's 15 dB)")
    }
}
