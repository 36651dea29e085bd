import Devices
import Foundation

/// What a playback reports.
public enum PlaybackEvent: Sendable, Hashable {
    /// The first sample went to the speaker, `latency` after the first one arrived (the
    /// kiosk's share of the reply's latency: the jitter buffer and the device).
    case started(turnID: String, latency: Duration)
    /// Playback ended: played to the end, stopped, or the speaker failed; `underruns` counts
    /// the times the buffer ran dry before the reply's end.
    case finished(turnID: String, PlaybackEnd, underruns: Int)
    /// The speaker device ran out of samples and was restarted: the listener heard a gap
    /// (counted, not fatal; the echo reference is told, and re-finds the speaker's timing).
    case speakerRanOut
}

/// How a playback ended.
public enum PlaybackEnd: Sendable, Hashable {
    /// Played to the end.
    case completed
    /// Stopped (a barge-in, an escalation, the session's end).
    case stopped
    /// The speaker could not be opened or failed.
    case failed(String)
}

/// Plays spoken replies through a speaker, or a file standing in for one, while they stream
/// in, one at a time in the order they were started, on a speaker thread of its own (device
/// writes block).
///
/// A jitter buffer absorbs a slow network: playback starts once ``Settings/prebuffer`` of the
/// reply has arrived, or all of it. When the buffer runs dry before the reply's end, that is an
/// underrun: counted, not fatal; playback waits for the same amount again and goes on.
///
/// With ``Settings/continuous`` (a device, with the echo canceller) the speaker is opened once
/// and plays silence between replies, and a stopped reply is taken back from the device's buffer
/// rather than the device restarted: the speaker's stream then keeps one alignment with the
/// microphone's, which the canceller's filter depends on. The silence the device holds ahead is
/// taken back the same way when a reply starts, so the reply is heard at once (the device's
/// buffer, 200 ms, would otherwise play out first). Otherwise the speaker is opened for each
/// reply and let go after it.
///
/// `@unchecked Sendable`: the sink (a device handle) is used by the speaker thread only; the
/// queue is guarded by `queue`.
public final class ReplyPlayer: @unchecked Sendable {
    /// How replies are played.
    public struct Settings: Sendable {
        /// Audio held before playback starts, and after an underrun.
        public var prebuffer = Duration.milliseconds(120)
        /// Gain, 0…1.
        public var volume = 1.0
        /// Samples per second of the replies.
        public var sampleRate = ConversationMachine.sampleRate
        /// Samples per write to the speaker (20 ms).
        public var block = 320
        /// Whether the speaker stays open, playing silence, between replies.
        public var continuous = false

        /// The defaults.
        public init() {}
    }

    private let sink: any AudioSink
    private let settings: Settings
    private let report: @Sendable (PlaybackEvent) -> Void
    private let echo: EchoReference?
    private let queue = NSCondition()
    // Guarded by `queue`.
    private var waiting: [Playback] = []
    private var speakerThreadRunning = false
    private var closing = false

    /// A player on `sink` telling `report` what happens, and `echo` what it played and when it
    /// is heard (for the microphone's echo canceller).
    public init(sink: any AudioSink, settings: Settings, echo: EchoReference? = nil, report: @escaping @Sendable (PlaybackEvent) -> Void) {
        self.sink = sink
        self.settings = settings
        self.echo = echo
        self.report = report
    }

    /// Starts playing reply `turnID` once the replies before it are done: samples are given to
    /// the playback as they arrive.
    public func start(turnID: String) -> Playback {
        let playback = Playback(turnID: turnID, settings: settings)
        queue.lock()
        waiting.append(playback)
        if !speakerThreadRunning {
            speakerThreadRunning = true
            let thread = Thread { [self] in runSpeaker() }
            thread.name = "hhd-speaker"
            thread.start()
        }
        queue.signal()
        queue.unlock()
        return playback
    }

    /// Plays `samples`, all known now (the apology).
    public func play(_ samples: [Int16], turnID: String) -> Playback {
        let playback = start(turnID: turnID)
        playback.append(samples)
        playback.finish()
        return playback
    }

    /// Lets the speaker go once the replies started have ended (stop them first to end at once).
    public func close() {
        queue.lock()
        closing = true
        queue.signal()
        queue.unlock()
    }

    /// What the speaker thread does next.
    private enum Next {
        case play(Playback)
        /// Nothing to play: keep the open speaker running.
        case silence
        case quit
    }

    private func next(speakerOpen: Bool) -> Next {
        queue.lock()
        defer { queue.unlock() }
        while waiting.isEmpty {
            if closing {
                speakerThreadRunning = false
                return .quit
            }
            if speakerOpen && settings.continuous { return .silence }
            if !settings.continuous {  // the thread ends with the replies; the next one starts another
                speakerThreadRunning = false
                return .quit
            }
            queue.wait()
        }
        return .play(waiting.removeFirst())
    }

    private func runSpeaker() {
        var open = false
        /// Silence written since the last reply's samples (a running speaker between replies):
        /// what may be taken back for the next reply, and no more (the device may still hold
        /// the end of the last reply before it).
        var silenceWritten = 0
        let silence = [Int16](repeating: 0, count: settings.block)
        while true {
            switch next(speakerOpen: open) {
            case .quit:
                if open { sink.close() }
                return
            case .silence:
                do {
                    try write(silence)
                    silenceWritten += silence.count
                } catch {
                    sink.close()
                    open = false
                    silenceWritten = 0
                    echo?.restarted()
                }
            case .play(let playback):
                if !open {
                    guard !playback.isStopped else {
                        report(.finished(turnID: playback.turnID, .stopped, underruns: 0))
                        continue
                    }
                    do {
                        try sink.open(sampleRate: settings.sampleRate)
                        open = true
                    } catch {
                        report(.finished(turnID: playback.turnID, .failed("\(sink.name): \(error)"), underruns: 0))
                        continue
                    }
                }
                open = play(playback, takingBack: silenceWritten)
                silenceWritten = 0
                if !open || !settings.continuous {
                    sink.close()
                    open = false
                    echo?.restarted()
                }
            }
        }
    }

    /// Writes `samples`, telling the echo reference when they will be heard (and when the
    /// device ran out before them: they are heard after a gap).
    private func write(_ samples: [Int16]) throws(DeviceError) {
        let underruns = sink.underruns
        try sink.write(samples)
        let ranOut = sink.underruns != underruns
        if ranOut { report(.speakerRanOut) }
        if let echo {
            if ranOut { echo.speakerLost() }
            let ahead = sink.pendingFrames - samples.count
            echo.played(samples, heardFrom: .now + .microseconds(ahead * 1_000_000 / settings.sampleRate))
        }
    }

    /// Plays `playback` on the open speaker to its end or stop; false when the speaker failed.
    /// Up to `silence` frames of the silence the device holds ahead are taken back before the
    /// first samples, so the reply is heard at once rather than after the device's buffer of
    /// silence.
    /// On a running speaker, silence is written while the jitter buffer fills (at the start, or
    /// after running dry), so the device never runs out and keeps its alignment.
    private func play(_ playback: Playback, takingBack silence: Int) -> Bool {
        var underruns = 0
        var first = true
        var silenceAhead = silence
        let patience: Duration? = settings.continuous ? .microseconds(settings.block * 1_000_000 / settings.sampleRate) : nil
        let silence = [Int16](repeating: 0, count: settings.block)
        while true {
            switch playback.next(waitingForBuffer: first, patience: patience) {
            case .waiting:
                do { try write(silence) } catch {
                    sink.discard()
                    report(.finished(turnID: playback.turnID, .failed("\(sink.name): \(error)"), underruns: underruns))
                    return false
                }
                if first { silenceAhead += settings.block }
            case .samples(let samples, let arrivedAt, let underrun):
                if underrun { underruns += 1 }
                if first && silenceAhead > 0, case let frames = sink.rewind(maxFrames: silenceAhead), frames > 0 { echo?.rewound(frames) }
                do { try write(samples) } catch {
                    sink.discard()
                    report(.finished(turnID: playback.turnID, .failed("\(sink.name): \(error)"), underruns: underruns))
                    return false
                }
                if first, let arrivedAt {
                    report(.started(turnID: playback.turnID, latency: arrivedAt.duration(to: .now)))
                }
                first = false
            case .stopped:
                if settings.continuous, case let frames = sink.rewind(maxFrames: .max), frames > 0 {
                    echo?.rewound(frames)
                } else {
                    sink.discard()
                    echo?.restarted()
                }
                report(.finished(turnID: playback.turnID, .stopped, underruns: underruns))
                return true
            case .ended:
                if !settings.continuous { sink.drain() }
                report(.finished(turnID: playback.turnID, .completed, underruns: underruns))
                return true
            }
        }
    }
}

/// One reply being played: the network side appends, the speaker thread takes.
public final class Playback: @unchecked Sendable {
    /// The turn whose reply this is.
    public let turnID: String
    private let settings: ReplyPlayer.Settings
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var buffer: [Int16] = []
    private var taken = 0
    private var finished = false
    private var stopped = false
    private var firstArrival: ContinuousClock.Instant?
    /// Ran dry before the end: waiting for the jitter buffer to fill again.
    private var refilling = false

    fileprivate init(turnID: String, settings: ReplyPlayer.Settings) {
        self.turnID = turnID
        self.settings = settings
    }

    /// Samples of the reply, as they arrive; the volume is applied here.
    public func append(_ samples: [Int16]) {
        guard !samples.isEmpty else { return }
        let gain = settings.volume
        let scaled = gain >= 1 ? samples : samples.map { Int16(clamping: Int((Double($0) * gain).rounded())) }
        condition.lock()
        if firstArrival == nil { firstArrival = .now }
        buffer += scaled
        condition.signal()
        condition.unlock()
    }

    /// The reply is complete: what is buffered plays to its end.
    public func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    /// Stops the reply now; what has not been played is dropped.
    public func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    /// Whether ``stop()`` was called.
    public var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    fileprivate enum Step {
        /// Write these; `arrivedAt` is when the reply's first samples came (the first step
        /// only); `underrun` when the buffer ran dry before them.
        case samples([Int16], arrivedAt: ContinuousClock.Instant?, underrun: Bool)
        case stopped
        case ended
        /// Nothing to write yet, and the caller's patience is out.
        case waiting
    }

    /// The next block to write, waiting for the jitter buffer to fill at the start (`prebuffer`)
    /// and after running dry; `.waiting` when that takes longer than `patience` (`nil`: wait).
    fileprivate func next(waitingForBuffer prebuffer: Bool, patience: Duration?) -> Step {
        let prebufferSamples = Int(Double(settings.sampleRate) * (settings.prebuffer / .seconds(1)))
        condition.lock()
        defer { condition.unlock() }
        if !prebuffer && !refilling && buffer.count == taken && !finished && !stopped { refilling = true }
        if prebuffer || refilling {
            let deadline = patience.map { Date().addingTimeInterval($0 / .seconds(1)) }
            while !stopped && !finished && buffer.count - taken < max(1, prebufferSamples) {
                if let deadline {
                    if !condition.wait(until: deadline) { return .waiting }
                } else {
                    condition.wait()
                }
            }
        }
        let underrun = refilling
        refilling = false
        if stopped { return .stopped }
        if buffer.count == taken { return finished ? .ended : .samples([], arrivedAt: nil, underrun: underrun) }
        let end = min(buffer.count, taken + settings.block)
        let block = Array(buffer[taken..<end])
        taken = end
        if taken > 1 << 16 {  // keep the buffer from growing with the reply
            buffer.removeFirst(taken)
            taken = 0
        }
        return .samples(block, arrivedAt: prebuffer ? firstArrival : nil, underrun: underrun)
    }
}
