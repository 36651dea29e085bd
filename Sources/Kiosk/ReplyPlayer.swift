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
/// in; each on a thread of its own (device writes block), one at a time (a playback waits for
/// the speaker until the one before has let it go).
///
/// A jitter buffer absorbs a slow network: playback starts once ``Settings/prebuffer`` of the
/// reply has arrived, or all of it. When the buffer runs dry before the reply's end, that is an
/// underrun: counted, not fatal; playback waits for the same amount again and goes on.
///
/// `@unchecked Sendable`: the sink (a device handle) is used by one speaker thread at a time,
/// under `speakerLock`.
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

        /// The defaults.
        public init() {}
    }

    private let sink: any AudioSink
    private let speakerLock = NSLock()
    private let settings: Settings
    private let report: @Sendable (PlaybackEvent) -> Void

    /// A player on `sink` telling `report` what happens.
    public init(sink: any AudioSink, settings: Settings, report: @escaping @Sendable (PlaybackEvent) -> Void) {
        self.sink = sink
        self.settings = settings
        self.report = report
    }

    /// Starts playing reply `turnID`: samples are given to the playback as they arrive.
    public func start(turnID: String) -> Playback {
        let playback = Playback(turnID: turnID, settings: settings)
        let thread = Thread { [self] in run(playback) }
        thread.name = "hhd-speaker"
        thread.start()
        return playback
    }

    /// Plays `samples`, all known now (the apology).
    public func play(_ samples: [Int16], turnID: String) -> Playback {
        let playback = start(turnID: turnID)
        playback.append(samples)
        playback.finish()
        return playback
    }

    private func run(_ playback: Playback) {
        speakerLock.lock()
        defer { speakerLock.unlock() }
        guard !playback.isStopped else {
            report(.finished(turnID: playback.turnID, .stopped, underruns: 0))
            return
        }
        do {
            try sink.open(sampleRate: settings.sampleRate)
        } catch {
            report(.finished(turnID: playback.turnID, .failed("\(sink.name): \(error)"), underruns: 0))
            return
        }
        defer { sink.close() }
        var underruns = 0
        var first = true
        while true {
            switch playback.next(waitingForBuffer: first) {
            case .samples(let samples, let arrivedAt, let underrun):
                if underrun { underruns += 1 }
                do { try sink.write(samples) } catch {
                    sink.discard()
                    report(.finished(turnID: playback.turnID, .failed("\(sink.name): \(error)"), underruns: underruns))
                    return
                }
                if first, let arrivedAt {
                    report(.started(turnID: playback.turnID, latency: arrivedAt.duration(to: .now)))
                }
                first = false
            case .stopped:
                sink.discard()
                report(.finished(turnID: playback.turnID, .stopped, underruns: underruns))
                return
            case .ended:
                sink.drain()
                report(.finished(turnID: playback.turnID, .completed, underruns: underruns))
                return
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
    }

    /// The next block to write, waiting for the jitter buffer to fill at the start (`prebuffer`)
    /// and after running dry.
    fileprivate func next(waitingForBuffer prebuffer: Bool) -> Step {
        let prebufferSamples = Int(Double(settings.sampleRate) * (settings.prebuffer / .seconds(1)))
        condition.lock()
        defer { condition.unlock() }
        var underrun = false
        if !prebuffer && buffer.count == taken && !finished && !stopped { underrun = true }
        if prebuffer || underrun {
            while !stopped && !finished && buffer.count - taken < max(1, prebufferSamples) { condition.wait() }
        }
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
