import EchoCancellation
import Synchronization

/// What the speaker played and when it was heard, handed from the speaker threads to the
/// microphone thread, whose echo canceller needs it beside what the microphone heard at the
/// same moment.
///
/// Both sides put times on their audio, on one timeline of 16 kHz samples: the speaker when each
/// block will be heard (the moment it is written plus what the device still holds before it),
/// the microphone when each block was captured. Those times jitter (the threads are scheduled
/// late, the device reports its delay in whole periods), by a few milliseconds on a kiosk and by
/// tens, now and then hundreds, in an emulated machine; so each side runs on from where its last
/// block ended, and only moves, by the median offset, when its stamps have been more than
/// ``tolerance`` off, on the same side, for ``persistence`` blocks in a row (an underrun, a
/// dropped block). When the device says audio was lost (the microphone's overrun, the speaker's
/// underrun) or the speaker restarted, a side starts again from its next stamp and settles by the
/// median of the ``persistence`` after it (the speaker's blocks since the restart moving with it). (A single late stamp used to move the reference by its lateness, and the
/// canceller, whose filter had learned the echo at the old lead, let the reply through until it
/// learned it again: the package VM test heard the kiosk itself after such jumps.) So the
/// canceller sees a reference whose lead over its echo stays constant within a reply and across
/// replies. The microphone is given the reference ``lead`` ahead of its own time, so that an
/// echo heard a little earlier than the timestamps say is still one the canceller can model.
///
/// A block is what a side hands over at once: the speaker's writes (20 ms), the microphone's
/// 10 ms frames (``EchoCancellingFilter`` asks per frame).
///
/// Holds at most two seconds of reference; what the microphone passed more than ``history`` ago
/// is dropped.
public final class EchoReference: Sendable {
    /// Samples per second of the timeline.
    public static let sampleRate = 16_000
    /// How far a block's time may be from where the last one ended and still run on from it
    /// (10 ms).
    public static let tolerance = 160
    /// How many blocks in a row must be more than ``tolerance`` off, on the same side, before a
    /// side moves.
    public static let persistence = 8
    /// How far the reference leads the microphone's time (10 ms).
    public static let lead = 160
    /// Samples kept (two seconds).
    fileprivate static let capacity = 2 * sampleRate
    /// Samples kept behind what the microphone was last given (0.6 s): what
    /// ``microphoneWindow(before:after:)`` may look back over.
    public static let history = 9_600

    /// Where one side's blocks go on the timeline.
    fileprivate struct Side {
        /// Where the last block ended; nil: the next block is placed at its own time.
        var next: Int?
        /// How far off the blocks in a row beyond ``tolerance`` were (measured − expected), or
        /// all of them while settling.
        var offsets: [Int] = []
        /// Whether the side restarted from a single stamp (after lost audio): the next
        /// ``persistence`` blocks place it by their median offset, however small.
        var settling = false

        /// Restarts the side from the next block's stamp, then settles it.
        mutating func lost() {
            self = Side(settling: true)
        }

        /// Where a block of `count` samples measured at `measured` goes: where the last one
        /// ended, unless the blocks have been more than ``tolerance`` off for ``persistence``
        /// blocks (or the side is settling), when the side moves by their median offset (a
        /// jump, counted in `jumps`, unless settling).
        mutating func place(_ count: Int, measured: Int, jumps: inout Int, largest: inout Int) -> Int {
            var index = measured
            if let expected = next {
                index = expected
                let offset = measured - expected
                if settling || abs(offset) > EchoReference.tolerance {
                    // A streak is of offsets on one side (settling takes them all).
                    if !settling, let last = offsets.last, (last > 0) != (offset > 0) { offsets.removeAll() }
                    offsets.append(offset)
                } else {
                    offsets.removeAll()
                }
                if offsets.count >= EchoReference.persistence {
                    let move = offsets.sorted()[offsets.count / 2]
                    index += move
                    if !settling { jumps += 1 }
                    largest = max(largest, abs(move))
                    offsets.removeAll()
                    settling = false
                }
            }
            next = index + count
            return index
        }
    }

    fileprivate struct Timeline {
        /// Sample index of `samples[0]`.
        var start = 0
        var samples: [Int16] = []
        var speaker = Side()
        var microphone = Side()
        /// Samples further ahead the microphone reads than its time says (``shiftMicrophone(by:)``).
        var microphoneShift = 0
        var jumps = AlignmentJumps()
        /// Where the speaker's side started again, while it settles.
        var speakerRestartedAt: Int?
        /// Where the speaker's side first moved (a jump, or where it started again) since the
        /// microphone last reached such a place (``alignmentMoved()``).
        var speakerMovedAt: Int?
        /// Whether the microphone's side jumped since ``alignmentMoved()`` last said so.
        var microphoneJumped = false
    }

    /// The times a side moved off its run (``persistence`` blocks beyond ``tolerance``), and the
    /// microphone's and the speaker's losses, since last asked: each changes the reference's lead over its echo,
    /// which the canceller must learn again.
    public struct AlignmentJumps: Sendable, Equatable {
        /// The speaker's jumps (not counting its first block after a restart).
        public var speaker = 0
        /// The microphone's jumps.
        public var microphone = 0
        /// The microphone's losses of audio (each restarts it from its stamps).
        public var losses = 0
        /// The speaker's losses: its device ran out (each restarts it from its stamps).
        public var speakerLosses = 0
        /// The largest jump of either side, or move after a loss, samples (16 kHz).
        public var largest = 0

        /// Counts as given; none by default.
        public init(speaker: Int = 0, microphone: Int = 0, losses: Int = 0, speakerLosses: Int = 0, largest: Int = 0) {
            (self.speaker, self.microphone, self.losses, self.speakerLosses, self.largest) = (speaker, microphone, losses, speakerLosses, largest)
        }
    }

    private let origin: ContinuousClock.Instant
    private let timeline = Mutex(Timeline())

    /// An empty reference whose timeline starts at `origin`.
    public init(origin: ContinuousClock.Instant = .now) {
        self.origin = origin
    }

    /// `samples`, written to the speaker, will be heard from `instant`.
    public func played(_ samples: [Int16], heardFrom instant: ContinuousClock.Instant) {
        let measured = index(of: instant)
        timeline.withLock { line in
            let (jumps, expected, settling) = (line.jumps.speaker, line.speaker.next, line.speaker.settling)
            let index = line.speaker.place(samples.count, measured: measured, jumps: &line.jumps.speaker, largest: &line.jumps.largest)
            if settling && expected == nil {  // the first block since the side started again (`Side.lost()`)
                line.speakerRestartedAt = index
                line.speakerMoved(at: index)
            } else if settling && !line.speaker.settling, let restartedAt = line.speakerRestartedAt, let expected {
                // Settled: the blocks since the restart were placed by its first stamp alone,
                // and move with the side.
                line.speakerRestartedAt = nil
                if index != expected {
                    line.move(from: restartedAt, to: expected, by: index - expected)
                    line.speakerMoved(at: min(restartedAt, restartedAt + index - expected))
                }
            } else if line.jumps.speaker != jumps {
                line.speakerMoved(at: index)
            }
            line.write(samples, at: index)
        }
    }

    /// The speaker's device ran out of samples (an underrun, recovered): everything written
    /// before was heard, and what is written next is heard after a gap the timeline does not
    /// know of. The speaker's side starts again from its next stamp and settles by the median
    /// of the ``persistence`` after it (as the microphone's does after lost audio), and the
    /// microphone is told when it reaches that block (``alignmentMoved()``): the echo moved
    /// against its reference by the stamps' error.
    public func speakerLost() {
        timeline.withLock { line in
            line.speaker.lost()
            line.jumps.speakerLosses += 1
        }
    }

    /// Whether the reference moved against its echo by the stamps, without the microphone's
    /// losing audio, in or before what the microphone was last given: its own side jumped, or
    /// the speaker's side jumped or started again (``speakerLost()``, ``restarted(at:)``).
    /// True once per move (moves found together are told once). A move by the stamps is as far
    /// off the sample as their jitter, which the canceller, learned to the sample, cannot follow.
    public func alignmentMoved() -> Bool {
        timeline.withLock { line in
            guard let next = line.microphone.next else { return false }
            var moved = line.microphoneJumped
            line.microphoneJumped = false
            if let movedAt = line.speakerMovedAt, movedAt < next + Self.lead + line.microphoneShift {
                line.speakerMovedAt = nil
                moved = true
            }
            return moved
        }
    }

    /// The speaker took back its last `frames` (a stopped reply), running on: they will not be
    /// heard, and what is written next takes their place.
    public func rewound(_ frames: Int) {
        timeline.withLock { line in
            guard let next = line.speaker.next else { return }
            line.truncate(at: next - frames)
            line.speaker.next = next - frames
        }
    }

    /// The speaker dropped what it had not played and stopped, or was closed, at `instant`:
    /// nothing after it will be heard, and its side starts again from the next block's stamp
    /// and settles, as after running out (``speakerLost()``).
    public func restarted(at instant: ContinuousClock.Instant = .now) {
        let index = index(of: instant)
        timeline.withLock { line in
            line.truncate(at: index)
            line.speaker.lost()
        }
    }

    /// What the speaker played over the `count` samples the microphone captured from
    /// `instant` (``lead`` ahead); silence where it played nothing. `followsLoss`: the microphone
    /// lost audio before these samples (they do not follow on from the last).
    public func reference(count: Int, capturedFrom instant: ContinuousClock.Instant, followsLoss: Bool = false) -> [Int16] {
        let measured = index(of: instant)
        return timeline.withLock { line in
            if followsLoss {
                if line.microphone.next != nil { line.jumps.losses += 1 }
                line.microphone.lost()
            }
            let jumps = line.jumps.microphone
            let index = line.microphone.place(count, measured: measured, jumps: &line.jumps.microphone, largest: &line.jumps.largest)
            if line.jumps.microphone != jumps { line.microphoneJumped = true }
            return line.read(count, at: index + Self.lead + line.microphoneShift)
        }
    }

    /// Whether the speaker plays anything in the `samples` after what the microphone was last
    /// given: an echo that comes before its reference (stamps off) starts that much early.
    public func playsWithin(_ samples: Int) -> Bool {
        timeline.withLock { line in
            guard let next = line.microphone.next else { return false }
            let ahead = next + Self.lead + line.microphoneShift
            let from = max(ahead, line.start), to = min(ahead + samples, line.start + line.samples.count)
            return from < to && line.samples[(from - line.start)..<(to - line.start)].contains { $0 != 0 }
        }
    }

    /// From now on the microphone is given the reference `samples` further ahead (behind, when
    /// negative) than the timestamps say: the echo was found elsewhere than they put it
    /// (``EchoDelayEstimator``).
    public func shiftMicrophone(by samples: Int) {
        timeline.withLock { $0.microphoneShift += samples }
    }

    /// The reference as the microphone is given it, from `before` samples before what it will
    /// be given next to `after` samples after (what lies more than ``history`` before its last
    /// read is gone); silence where nothing is kept.
    public func microphoneWindow(before: Int, after: Int) -> [Int16] {
        timeline.withLock { line in
            guard let next = line.microphone.next else { return [Int16](repeating: 0, count: before + after) }
            return line.peek(before + after, at: next + Self.lead + line.microphoneShift - before)
        }
    }

    /// The jumps since the last call.
    public func takeJumps() -> AlignmentJumps {
        timeline.withLock { line in
            defer { line.jumps = AlignmentJumps() }
            return line.jumps
        }
    }

    private func index(of instant: ContinuousClock.Instant) -> Int {
        Int((origin.duration(to: instant) / .seconds(1) * Double(Self.sampleRate)).rounded())
    }

}

extension EchoReference.Timeline {
    /// The speaker's side moved at `index`: the earliest such place is kept for the microphone.
    fileprivate mutating func speakerMoved(at index: Int) {
        speakerMovedAt = min(index, speakerMovedAt ?? index)
    }

    /// Moves the samples from `from` to `to` (the end of what is kept) by `offset`: silence
    /// where they were, and over what lay where they go.
    fileprivate mutating func move(from: Int, to: Int, by offset: Int) {
        let moved = peek(to - from, at: from)
        truncate(at: min(from, from + offset))
        write(moved, at: from + offset)
    }

    fileprivate mutating func write(_ block: [Int16], at index: Int) {
        if samples.isEmpty { start = index }
        var block = block[...]
        var index = index
        if index < start {  // older than anything kept: only its tail is still wanted
            block = block.dropFirst(start - index)
            index = start
        }
        let offset = index - start
        if offset > samples.count { samples += [Int16](repeating: 0, count: offset - samples.count) }
        let overlap = min(block.count, samples.count - offset)
        if overlap > 0 { samples.replaceSubrange(offset..<offset + overlap, with: block.prefix(overlap)) }
        samples += block.dropFirst(overlap)
        let capacity = EchoReference.capacity
        if samples.count > capacity {
            let removed = samples.count - capacity
            samples.removeFirst(removed)
            start += removed
        }
    }

    fileprivate mutating func truncate(at index: Int) {
        let keep = max(0, index - start)
        if keep < samples.count { samples.removeLast(samples.count - keep) }
    }

    /// `count` samples from `index`, silence outside what is kept.
    fileprivate func peek(_ count: Int, at index: Int) -> [Int16] {
        var result = [Int16](repeating: 0, count: count)
        let from = max(index, start), to = min(index + count, start + samples.count)
        if from < to {
            result.replaceSubrange(from - index..<to - index, with: samples[from - start..<to - start])
        }
        return result
    }

    /// `count` samples from `index`, silence outside what is kept; drops what lies more than
    /// ``EchoReference/history`` before.
    fileprivate mutating func read(_ count: Int, at index: Int) -> [Int16] {
        let result = peek(count, at: index)
        let passed = min(samples.count, max(0, index - EchoReference.history - start))
        samples.removeFirst(passed)
        start += passed
        return result
    }
}

/// The microphone thread's echo canceller: cuts captured audio into 10 ms frames, takes the
/// speaker's echo out of each with what the ``EchoReference`` says was heard at that moment, and
/// measures the echo return loss enhancement (ERLE) over each reply. The canceller runs on every
/// frame, the speaker silent or not: it keeps what it learned of the room from one reply to the
/// next.
///
/// What the canceller leaves of a loud echo is still speech to the voice detector (45 dB under a
/// reply at -12 dBFS is a few dB over a quiet room), so while the speaker plays each frame is
/// judged: a frame the canceller took most of (its output more than ``doubleTalkRatio`` under the
/// microphone) was echo, and is replaced; so is a frame whose output is not clearly louder than the
/// room (``patientOverRoom``): what the filter leaves of a reply's reverberant tail as a sentence
/// ends, when it cannot take that down by 10 dB, is a few dB over the room, while a patient talking
/// over a reply is far louder; and so is a frame quieter than the echo the reference predicts
/// (``underItsEcho``), which a patient talking would have made louder. A frame the canceller could
/// not take down, and loud, holds sound the speaker did not make (the patient), and is passed on.
/// An echo frame is replaced by noise at the room's level (the residual keeps the rhythm of speech
/// at any level, which the voice detector would still hear). Until the canceller has learned the
/// room (``isLearning``) every frame heard while the speaker plays is brought down: the first reply
/// can be neither heard as a patient nor barged into. Nor can a reply's start: each reply's first
/// 200 ms of sound are brought down while the canceller shows it still cancels the echo
/// (``onsetERLE``), and if it does not, the whole reply is (the package VM test's kiosk heard
/// itself 30-50 ms into replies whose start the canceller left nearly whole, and once it had barged
/// in on itself, in every reply after: each was stopped before the canceller could converge again).
/// After the microphone lost audio, its side of the reference restarts from the stamps, whose
/// jitter moves it by a few samples against the echo, enough for the filter (learned to the sample)
/// to leave most of it (so after the speaker ran out or restarted, and after either side's jump):
/// the next 200 ms of the speaker's sound are held back from the canceller,
/// the move is found with the echo path it learned (``EchoLeadFinder``) and undone, and the held
/// frames are cancelled and checked as a reply's start. It learns again after the echo was found
/// out of the canceller's reach and the reference moved to it (``EchoDelayEstimator``).
public struct EchoCancellingFilter {
    private let canceller: SpeexEchoCanceller
    private let reference: EchoReference
    private var pending: [Int16] = []
    /// When `pending[0]` was captured.
    private var pendingFrom: ContinuousClock.Instant?
    /// Whether the next frame does not follow on from the last one given to the reference (the
    /// first frame, or audio lost).
    private var afterLoss = true
    private var silentFrames = EchoCancellingFilter.replyGapFrames
    private var comfortNoise = ComfortNoise()
    private var meter = EchoReturnLossMeter()
    /// The room's noise after the canceller (whose suppressor takes some of it), RMS (full scale
    /// 32768), from frames with the speaker silent: the comfort noise's level.
    private var noiseFloor = RoomNoise()
    /// The room's noise as the microphone hears it, RMS, from frames with the speaker silent.
    private var roomLevel = RoomNoise()
    /// Where the echo is, from the frames heard while the speaker was active.
    private var delay = EchoDelayEstimator()
    /// Frames heard while the speaker was active since the echo's place was last checked.
    private var framesSinceDelayCheck = 0
    /// The lag out of reach the last check found, to be confirmed by the next.
    private var lagOutOfReach: Int?
    /// Frames of a silent speaker that end a reply (1 s: longer than the pauses inside one, and
    /// than the room's echo).
    static let replyGapFrames = 100
    /// How far ahead of the reference the speaker counts as playing while the canceller learns
    /// (100 ms): an echo that comes before its reference, until the reference is moved to it,
    /// starts that much early. (Once learned, the echo is after its reference.)
    static let lookahead = 1_600
    /// The reply ERLE at which the canceller is trusted with the voice detector.
    static let learnedERLE = 30.0
    /// Output under the microphone by more than this (energy ratio, -10 dB) is echo.
    static let doubleTalkRatio = 0.1
    /// While the speaker plays, output less than this over the room's noise at the microphone
    /// (energy ratio, +18 dB) is echo. Measured in `EchoCancellationTests` (before ``RoomNoise`` started
    /// from the first frame): 15 to 24 dB give the same barge-ins; without it, reverberant tails the filter let through were heard as speech
    /// once or twice in 30 replies.
    static let patientOverRoom = 64.0
    /// The echo's lag after its reference that the canceller is given after a realignment
    /// (frames): 50 ms after, well inside the tail, so that an estimate a few frames off (the
    /// first seconds of a reply found an echo 64 ms early at 40 ms) still leaves the echo after
    /// its reference.
    static let realignedLag = 5
    /// The lags (frames) the canceller is left with: from at once to a third of its tail.
    private let acceptedLags: ClosedRange<Int>
    /// How well the loudness curves must match for a lag out of reach to be believed
    /// (``EchoDelayEstimator``), in two checks in a row. Speech's own rhythm makes lags far from
    /// the echo match up to about 0.63 while a patient talks over a reply (held-out 3 realigned
    /// to such a lag at 0.6 and heard itself 18 times); echoes out of reach matched at 0.78 and
    /// more (`EchoCancellationTests`, slow devices and early stamps, which chose this).
    static let delayCorrelation = 0.75
    /// Frames of a playing speaker kept by the estimator before a lag is believed (1 s).
    static let delayActiveFrames = 100
    /// A reply cancelled by this much (dB, so far) has its echo within reach: no lag is looked
    /// for.
    static let realignBelowERLE = 20.0
    /// Frames of a reply's sound (the speaker playing) over which the canceller must show it
    /// still cancels the echo before anything heard over the reply may pass (200 ms).
    static let onsetFrames = 20
    /// The ERLE over a reply's ``onsetFrames`` that shows it (dB).
    static let onsetERLE = 15.0
    /// The present reply's first frames, while they are measured (until `reply.onsetERLE`).
    private var onset = EchoReturnLossMeter()
    /// After lost audio or a jump (``checkTheEchoAgain()``), the first ``onsetFrames`` frames
    /// heard with the speaker playing, held back from the canceller until the reference's move is found
    /// (``EchoLeadFinder``); nil when nothing is held back.
    private var heldAfterLoss: [[Int16]]?
    /// How well the learned echo must match what was heard for the reference to be moved to it
    /// (``EchoLeadFinder``).
    static let leadCorrelation = 0.6
    /// How loud the echo is against the reference (energy ratio), from the last reply cancelled
    /// by ``learnedERLE`` (nothing but the echo in it).
    private var echoPathGain: Double?
    /// A frame the canceller took less than ``doubleTalkRatio`` from is still echo when the
    /// microphone is this much under the echo the reference predicts (energy ratio, -6 dB): the
    /// canceller misadapted, and a patient talking would have made it louder.
    static let underItsEcho = 0.25
    /// Whether the canceller is still learning the room (until a reply's echo was cancelled by
    /// ``learnedERLE``).
    public private(set) var isLearning = true
    /// How the last reply's echo went, once it has ended.
    public private(set) var lastReply: ReplyEcho?
    /// The replies ended so far.
    public private(set) var repliesEnded = 0
    /// How the present reply's echo goes.
    private var reply = ReplyEcho()
    /// Whether the speaker played within the last second (a reply, or its echo, may be heard).
    public var isSpeakerActive: Bool { silentFrames < Self.replyGapFrames }

    /// A filter cancelling the echo of `reference` over `tailMilliseconds` of echo path.
    public init(reference: EchoReference, tailMilliseconds: Int) {
        canceller = SpeexEchoCanceller(tailMilliseconds: tailMilliseconds)
        self.reference = reference
        acceptedLags = 0...max(Self.realignedLag, tailMilliseconds / 30)
    }

    /// `samples` (16 kHz mono, -1…1), captured from `instant`, with the echo taken out; whole
    /// frames only, so the output may be up to one frame shorter or longer than the input.
    /// `followsLoss`: the microphone lost audio just before `samples` (the reference's move is
    /// found and undone, and the canceller must show again that it cancels the echo, as at a
    /// reply's start).
    public mutating func process(_ samples: [Float], capturedFrom instant: ContinuousClock.Instant, followsLoss: Bool = false) -> [Float] {
        if followsLoss {
            afterLoss = true
            checkTheEchoAgain()
        }
        // The samples still pending (less than a frame) are taken to lie just before these:
        // their time comes from this block's (after a loss, the last one's is stale).
        if pending.isEmpty || followsLoss {
            pendingFrom = instant - .microseconds(pending.count * 1_000_000 / EchoReference.sampleRate)
        }
        pending += samples.map { Int16(clamping: Int(($0 * 32_767).rounded())) }
        let frame = canceller.frameSize
        var output: [Float] = []
        output.reserveCapacity(pending.count)
        var start = 0
        while pending.count - start >= frame, let from = pendingFrom {
            let microphone = Array(pending[start..<start + frame])
            let followsLoss = afterLoss
            let played = reference.reference(count: frame, capturedFrom: from + .microseconds(start * 1_000_000 / EchoReference.sampleRate), followsLoss: afterLoss)
            afterLoss = false
            // After the microphone's own loss the hold is already on; a move found while a hold
            // is on is found by its search.
            if reference.alignmentMoved() && !followsLoss && heldAfterLoss == nil { checkTheEchoAgain() }
            start += frame
            if var held = heldAfterLoss, !held.isEmpty || played.contains(where: { $0 != 0 }) {
                held.append(microphone)
                heldAfterLoss = held
                output += comfortNoise.frame(count: frame, rms: noiseFloor.level).map { Float($0) / 32_768 }
                if held.count == Self.onsetFrames { findLeadAndCancelHeldFrames() }
                continue
            }
            output += cancel(microphone, played: played).map { Float($0) / 32_768 }
        }
        pending.removeFirst(start)
        if let from = pendingFrom { pendingFrom = from + .microseconds(start * 1_000_000 / EchoReference.sampleRate) }
        return output
    }

    /// After lost audio on either side, or a side's jump: the echo moved against its reference
    /// by the stamps' error, so the next ``onsetFrames`` of the speaker's sound are held back
    /// until the move is found and undone (``EchoLeadFinder``) and checked as a reply's start.
    private mutating func checkTheEchoAgain() {
        // The package VM test heard the kiosk itself after each microphone overrun, the
        // canceller leaving the echo whole for a reply, whatever the stamps said: nothing heard
        // over the speaker passes until the next 200 ms of its sound, held back until the
        // reference's move is found and undone, show the echo cancelled (a reply's start
        // check, again). Learning the room again instead (nothing passing until a whole reply
        // was cancelled by 30 dB, which a reply talked over never is) lost 14 of 20 barge-ins
        // in `EchoCancellationTests`' lost audio; the check alone, without undoing the move,
        // 2 (and 4 with nobody talking): the stamps' jitter left replies cancelled by 20-25
        // dB for several replies after each loss.
        heldAfterLoss = []
        meter.reset()
        onset.reset()
        reply.onsetERLE = nil
        delay.reset()
        lagOutOfReach = nil
        framesSinceDelayCheck = 0
    }

    /// Cancels the echo in one frame of the microphone, with `played` beside it, and measures
    /// it: the frame passed on to the voice detector. `replaying`: a frame held back after a loss,
    /// whose place was already taken by the room's noise (not counted as passed on).
    private mutating func cancel(_ microphone: [Int16], played: [Int16], replaying: Bool = false) -> [Int16] {
        let playing = played.contains { $0 != 0 } || (isLearning && reference.playsWithin(Self.lookahead))
        silentFrames = playing ? 0 : silentFrames + 1
        if silentFrames == Self.replyGapFrames {  // the reply and its echo are over
            reply.erle = meter.erle
            reply.jumps = reference.takeJumps()
            if let erle = reply.erle, erle >= Self.learnedERLE {
                isLearning = false
                echoPathGain = meter.echoPathGain
            }
            lastReply = reply
            repliesEnded += 1
            reply = ReplyEcho()
            meter.reset()
            onset.reset()
        }
        if isSpeakerActive { checkDelay(microphone: microphone, played: played) }
        let cleaned = canceller.process(microphone: microphone, reference: played)
        meter.add(microphone: microphone, output: cleaned, reference: played)
        if isSpeakerActive && reply.onsetERLE == nil {
            onset.add(microphone: microphone, output: cleaned, reference: played)
            reply.onsetERLE = onset.erle(after: Self.onsetFrames)
        }
        return judge(cleaned, heard: microphone, played: played, replaying: replaying)
    }

    /// After a loss: finds how far the reference moved against its echo over the frames held
    /// back, moves it back when the learned echo matches closely (``leadCorrelation``, and not at
    /// the search's edge), and cancels the held frames with the reference moved (what the
    /// voice detector was given for them, the room's noise, stands).
    private mutating func findLeadAndCancelHeldFrames() {
        guard let held = heldAfterLoss else { return }
        heldAfterLoss = nil
        let frame = canceller.frameSize, search = EchoLeadFinder.search
        let heard = held.flatMap { $0 }
        // The late taps of a long tail are left out where the reference's history ends.
        let path = Array(canceller.impulseResponse().prefix(EchoReference.history - heard.count - search))
        let window = reference.microphoneWindow(before: heard.count + path.count - 1 + search, after: search)
        var shift = 0
        if let lead = EchoLeadFinder.find(path: path, microphone: heard, reference: window) {
            reply.leadsAfterLoss.append(lead)
            if lead.correlation >= Self.leadCorrelation && abs(lead.shift) < search {
                shift = lead.shift
                reference.shiftMicrophone(by: shift)
            }
        }
        for (index, microphone) in held.enumerated() {
            let from = path.count - 1 + search + index * frame + shift
            _ = cancel(microphone, played: Array(window[from..<from + frame]), replaying: true)
        }
    }

    /// Adds a frame to the delay estimate and, four times a second, checks it: while the
    /// canceller takes little of the echo (``realignBelowERLE``), an echo found outside the lags
    /// it can model (``acceptedLags``), closely (``delayCorrelation``) and at the same lag (±1)
    /// twice in a row, moves the reference to where the echo is, and the canceller learns the
    /// room again (what it learned was of the wrong alignment).
    private mutating func checkDelay(microphone: [Int16], played: [Int16]) {
        delay.add(microphone: microphone, reference: played)
        framesSinceDelayCheck += 1
        guard framesSinceDelayCheck >= 25 else { return }
        framesSinceDelayCheck = 0
        guard delay.activeFrames >= Self.delayActiveFrames, let estimate = delay.estimate() else { return }
        reply.lastLag = estimate.lag
        let previous = lagOutOfReach
        lagOutOfReach = nil
        guard estimate.correlation >= Self.delayCorrelation, !acceptedLags.contains(estimate.lag),
            abs(estimate.lag) < delay.maxLag,  // a peak at the search's edge is no peak
            (meter.erle ?? 0) < Self.realignBelowERLE
        else { return }
        lagOutOfReach = estimate.lag
        guard let previous, abs(previous - estimate.lag) <= 1 else { return }
        lagOutOfReach = nil
        reference.shiftMicrophone(by: (Self.realignedLag - estimate.lag) * canceller.frameSize)
        reply.realignments.append(estimate.lag)
        delay.reset()
        canceller.reset()
        meter.reset()
        isLearning = true
    }

    /// The frame passed on to the voice detector: `cleaned` as it is, or the room's noise when
    /// it is echo (or the canceller is still learning).
    private mutating func judge(_ cleaned: [Int16], heard microphone: [Int16], played: [Int16], replaying: Bool) -> [Int16] {
        let level = FrameLevel.rms(cleaned)
        guard isSpeakerActive else {
            // The room as it is, with no reply in it (see RoomNoise).
            noiseFloor.add(level)
            roomLevel.add(FrameLevel.rms(microphone))
            return cleaned
        }
        reply.frames += 1
        let power = level * level, heard = FrameLevel.meanSquare(microphone)
        let room = roomLevel.level
        let onsetCancelled = reply.onsetERLE.map { $0 >= Self.onsetERLE } ?? false
        let isEcho = isLearning || !onsetCancelled || power < Self.doubleTalkRatio * heard
            || power < Self.patientOverRoom * room * room
            || echoPathGain.map { heard < Self.underItsEcho * $0 * FrameLevel.meanSquare(played) } ?? false
        if isEcho { return comfortNoise.frame(count: cleaned.count, rms: min(level, noiseFloor.level)) }
        if replaying { return cleaned }
        reply.passedFrames += 1
        if reply.firstPassed == nil {
            reply.firstPassed = .init(frame: reply.frames, microphone: FrameLevel.dbfs(rms: heard.squareRoot()), output: FrameLevel.dbfs(rms: level), reference: FrameLevel.dbfs(rms: FrameLevel.rms(played)))
        }
        return cleaned
    }

}

/// How one reply's echo went, for the log: what the canceller took, the reference's jumps, and
/// the frames passed on as the patient's while the speaker played.
public struct ReplyEcho: Sendable, Equatable {
    /// A frame passed on as the patient's: when, and its levels (dBFS).
    public struct PassedFrame: Sendable, Equatable {
        /// The frame's number in the reply (10 ms frames from the reply's first, 1-based).
        public var frame: Int
        /// What the microphone heard, what the canceller left, and what the speaker played.
        public var microphone, output, reference: Double
    }

    /// The echo return loss enhancement, dB (nil: too little echo to measure).
    public var erle: Double?
    /// The reference's jumps and the microphone's losses since the last reply ended (the silence
    /// before this reply, and the reply).
    public var jumps = EchoReference.AlignmentJumps()
    /// Frames heard while the speaker was active (the reply and a second after it).
    public var frames = 0
    /// Of those, the frames passed on as the patient's.
    public var passedFrames = 0
    /// The first of them.
    public var firstPassed: PassedFrame?
    /// The ERLE over the reply's first ``EchoCancellingFilter/onsetFrames`` of sound, once
    /// measured.
    public var onsetERLE: Double?
    /// The echo's lag after the reference last estimated (frames of 10 ms), if any.
    public var lastLag: Int?
    /// The lags found outside the canceller's reach, each followed by a realignment.
    public var realignments: [Int] = []
    /// The reference's moves found after lost audio or a jump, on either side (moved back when
    /// close).
    public var leadsAfterLoss: [EchoLeadFinder.Lead] = []
}

/// A room's noise level, RMS, from frames with the speaker silent: the first such frame's level,
/// then falling at once to a quieter frame and rising slowly (0.2% a frame, 0.9 dB a second:
/// speech is louder, and passes).
struct RoomNoise {
    private var measured: Double?

    /// The level; 10 (-70 dBFS) until a frame was measured.
    var level: Double { measured ?? 10 }

    /// Takes in a frame's RMS.
    mutating func add(_ rms: Double) {
        guard let measured else {
            self.measured = max(1, rms)
            return
        }
        self.measured = rms < measured ? max(1, rms) : measured * 1.002
    }
}

/// White noise at a given level, standing in for the room where the echo was.
struct ComfortNoise {
    private var state: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// `count` samples of noise with RMS `rms` (uniform, so the peak is √3 × `rms`).
    mutating func frame(count: Int, rms: Double) -> [Int16] {
        let peak = rms * 3.0.squareRoot()
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let uniform = Double(state >> 11) / Double(1 << 53) * 2 - 1
            return Int16(clamping: Int((uniform * peak).rounded()))
        }
    }
}
