import EchoCancellation
import Synchronization

/// What the speaker played and when it was heard, handed from the speaker threads to the
/// microphone thread, whose echo canceller needs it beside what the microphone heard at the
/// same moment.
///
/// Both sides put times on their audio, on one timeline of 16 kHz samples: the speaker when each
/// block will be heard (the moment it is written plus what the device still holds before it),
/// the microphone when each block was captured. Those times jitter by a few milliseconds (the
/// threads are scheduled late, the device reports its delay in whole periods), so each side
/// runs on from where its last block ended and only jumps when its time is more than
/// ``tolerance`` off (a new reply, an underrun, a dropped block): the canceller sees a
/// reference whose lead over its echo stays constant within a reply and across replies. The
/// microphone is given the reference ``lead`` ahead of its own time, so that an echo heard a
/// little earlier than the timestamps say is still one the canceller can model.
///
/// Holds at most two seconds of reference; what the microphone has passed is dropped.
public final class EchoReference: Sendable {
    /// Samples per second of the timeline.
    public static let sampleRate = 16_000
    /// How far a block's time may be from where the last one ended and still run on from it
    /// (10 ms).
    public static let tolerance = 160
    /// How far the reference leads the microphone's time (10 ms).
    public static let lead = 160
    private static let capacity = 2 * sampleRate

    fileprivate struct Timeline {
        /// Sample index of `samples[0]`.
        var start = 0
        var samples: [Int16] = []
        /// Where the speaker's and the microphone's last blocks ended.
        var nextPlayed: Int?
        var nextCaptured: Int?
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
            let index = Self.runOn(from: line.nextPlayed, to: measured)
            line.nextPlayed = index + samples.count
            line.write(samples, at: index)
        }
    }

    /// The speaker took back its last `frames` (a stopped reply), running on: they will not be
    /// heard, and what is written next takes their place.
    public func rewound(_ frames: Int) {
        timeline.withLock { line in
            guard let next = line.nextPlayed else { return }
            line.truncate(at: next - frames)
            line.nextPlayed = next - frames
        }
    }

    /// The speaker dropped what it had not played and stopped, or was closed, at `instant`:
    /// nothing after it will be heard, and the next block's time is taken as it comes.
    public func restarted(at instant: ContinuousClock.Instant = .now) {
        let index = index(of: instant)
        timeline.withLock { line in
            line.truncate(at: index)
            line.nextPlayed = nil
        }
    }

    /// What the speaker played over the `count` samples the microphone captured from
    /// `instant` (``lead`` ahead); silence where it played nothing.
    public func reference(count: Int, capturedFrom instant: ContinuousClock.Instant) -> [Int16] {
        let measured = index(of: instant)
        return timeline.withLock { line in
            let index = Self.runOn(from: line.nextCaptured, to: measured)
            line.nextCaptured = index + count
            return line.read(count, at: index + Self.lead)
        }
    }

    private func index(of instant: ContinuousClock.Instant) -> Int {
        Int((origin.duration(to: instant) / .seconds(1) * Double(Self.sampleRate)).rounded())
    }

    /// Where a block measured at `measured` goes: where the last one ended, unless that is more
    /// than ``tolerance`` away.
    private static func runOn(from expected: Int?, to measured: Int) -> Int {
        guard let expected, abs(expected - measured) <= tolerance else { return measured }
        return expected
    }
}

extension EchoReference.Timeline {
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
        let capacity = 2 * EchoReference.sampleRate
        if samples.count > capacity {
            samples.removeFirst(samples.count - capacity)
            start = index + block.count - capacity
        }
    }

    fileprivate mutating func truncate(at index: Int) {
        let keep = max(0, index - start)
        if keep < samples.count { samples.removeLast(samples.count - keep) }
    }

    /// `count` samples from `index`, silence outside what is kept; drops what lies before.
    fileprivate mutating func read(_ count: Int, at index: Int) -> [Int16] {
        var result = [Int16](repeating: 0, count: count)
        let from = max(index, start), to = min(index + count, start + samples.count)
        if from < to {
            result.replaceSubrange(from - index..<to - index, with: samples[from - start..<to - start])
        }
        let passed = min(samples.count, max(0, index - start))
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
/// What the canceller leaves of a loud echo is still speech to the voice detector (45 dB under
/// a reply at -12 dBFS is a few dB over a quiet room), so while the speaker plays each frame is
/// judged: a frame the canceller took most of (its output more than ``doubleTalkRatio`` under
/// the microphone) was echo, and is replaced; so is a frame whose output is not clearly louder
/// than the room (``patientOverRoom``): what the filter leaves of a reply's reverberant tail as
/// a sentence ends, when it cannot take that down by 10 dB, is a few dB over the room, while a
/// patient talking over a reply is far louder. A frame the canceller could not take down, and
/// loud, holds sound the speaker did not make (the patient), and is passed on. An echo frame
/// is replaced by noise at the room's level (the residual keeps the rhythm of speech at any
/// level, which the voice detector would still hear). Until the canceller has learned the room
/// (``isLearning``) every frame heard while the speaker plays is brought down: the first reply
/// can be neither heard as a patient nor barged into.
public struct EchoCancellingFilter {
    private let canceller: SpeexEchoCanceller
    private let reference: EchoReference
    private var pending: [Int16] = []
    /// When `pending[0]` was captured.
    private var pendingFrom: ContinuousClock.Instant?
    private var silentFrames = EchoCancellingFilter.replyGapFrames
    private var comfortNoise = ComfortNoise()
    private var meter = EchoReturnLossMeter()
    /// The room's noise after the canceller (whose suppressor takes some of it), RMS (full scale
    /// 32768), from frames with the speaker silent: the comfort noise's level.
    private var noiseFloor = RoomNoise()
    /// The room's noise as the microphone hears it, RMS, from frames with the speaker silent.
    private var roomLevel = RoomNoise()
    /// Frames of a silent speaker that end a reply (1 s: longer than the pauses inside one, and
    /// than the room's echo).
    static let replyGapFrames = 100
    /// The reply ERLE at which the canceller is trusted with the voice detector.
    static let learnedERLE = 30.0
    /// Output under the microphone by more than this (energy ratio, -10 dB) is echo.
    static let doubleTalkRatio = 0.1
    /// While the speaker plays, output less than this over the room's noise at the microphone
    /// (energy ratio, +18 dB) is echo. Measured in `EchoCancellationTests` (before ``RoomNoise`` started
    /// from the first frame): 15 to 24 dB give the same barge-ins; without it, reverberant tails the filter let through were heard as speech
    /// once or twice in 30 replies.
    static let patientOverRoom = 64.0
    /// Whether the canceller is still learning the room (until a reply's echo was cancelled by
    /// ``learnedERLE``).
    public private(set) var isLearning = true
    /// The ERLE of the last reply, once it has ended.
    public private(set) var lastReplyERLE: Double?
    /// Whether the speaker played within the last second (a reply, or its echo, may be heard).
    public var isSpeakerActive: Bool { silentFrames < Self.replyGapFrames }

    /// A filter cancelling the echo of `reference` over `tailMilliseconds` of echo path.
    public init(reference: EchoReference, tailMilliseconds: Int) {
        canceller = SpeexEchoCanceller(tailMilliseconds: tailMilliseconds)
        self.reference = reference
    }

    /// `samples` (16 kHz mono, -1…1), captured from `instant`, with the echo taken out; whole
    /// frames only, so the output may be up to one frame shorter or longer than the input.
    public mutating func process(_ samples: [Float], capturedFrom instant: ContinuousClock.Instant) -> [Float] {
        if pending.isEmpty { pendingFrom = instant }
        pending += samples.map { Int16(clamping: Int(($0 * 32_767).rounded())) }
        let frame = canceller.frameSize
        var output: [Float] = []
        output.reserveCapacity(pending.count)
        var start = 0
        while pending.count - start >= frame, let from = pendingFrom {
            let microphone = Array(pending[start..<start + frame])
            let played = reference.reference(count: frame, capturedFrom: from + .microseconds(start * 1_000_000 / EchoReference.sampleRate))
            start += frame
            silentFrames = played.contains { $0 != 0 } ? 0 : silentFrames + 1
            if silentFrames == Self.replyGapFrames {  // the reply and its echo are over
                if let erle = meter.erle {
                    lastReplyERLE = erle
                    if erle >= Self.learnedERLE { isLearning = false }
                }
                meter.reset()
            }
            let cleaned = canceller.process(microphone: microphone, reference: played)
            meter.add(microphone: microphone, output: cleaned, reference: played)
            output += judge(cleaned, heard: microphone).map { Float($0) / 32_768 }
        }
        pending.removeFirst(start)
        if let from = pendingFrom { pendingFrom = from + .microseconds(start * 1_000_000 / EchoReference.sampleRate) }
        return output
    }

    /// The frame passed on to the voice detector: `cleaned` as it is, or the room's noise when
    /// it is echo (or the canceller is still learning).
    private mutating func judge(_ cleaned: [Int16], heard microphone: [Int16]) -> [Int16] {
        let level = Self.rms(cleaned)
        guard isSpeakerActive else {
            // The room as it is, with no reply in it (see RoomNoise).
            noiseFloor.add(level)
            roomLevel.add(Self.rms(microphone))
            return cleaned
        }
        let power = level * level
        let room = roomLevel.level
        let isEcho = isLearning || power < Self.doubleTalkRatio * Self.meanSquare(microphone)
            || power < Self.patientOverRoom * room * room
        return isEcho ? comfortNoise.frame(count: cleaned.count, rms: min(level, noiseFloor.level)) : cleaned
    }

    private static func rms(_ samples: [Int16]) -> Double { meanSquare(samples).squareRoot() }

    private static func meanSquare(_ samples: [Int16]) -> Double {
        samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, samples.count))
    }
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
