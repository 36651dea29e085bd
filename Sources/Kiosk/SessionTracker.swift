import EdgeStore
import VitalsCore

/// What the capture side tells the session tracker, in time order (seconds on the daemon's
/// media clock).
public enum PipelineEvent: Sendable, Hashable {
    /// One second of video starting at `time`: was a face present in most of its frames?
    case presence(time: Double, face: Bool)
    /// A vitals estimate; its `time` is the time it describes.
    case vitals(VitalsEstimate)
    /// An utterance from `start` to `end`.
    case utterance(id: String, start: Double, end: Double)

    /// The time the event is ordered by (an utterance: its end, when it becomes known).
    public var time: Double {
        switch self {
        case .presence(let time, _): time
        case .vitals(let estimate): estimate.time
        case .utterance(_, _, let end): end
        }
    }
}

/// Cuts the stream of pipeline events into sessions: a session opens at the first second a
/// person is present (a face, or speech) and closes once nobody has been present for the
/// absence timeout, or at its maximum length. While the kiosk is answering (a turn with the
/// relay, a reply playing) the patient counts as present: they are waiting for it or listening,
/// and the camera may not see their face. A pure state machine: the recorder carries out
/// its actions.
public struct SessionTracker: Sendable {
    /// When sessions end.
    public struct Configuration: Sendable, Hashable {
        /// Seconds without a person that end a session.
        public var absenceTimeout: Double = 10
        /// The longest session, seconds.
        public var maximumLength: Double = 1800
        /// The longest answer that keeps a session open, seconds: a turn with the relay (at most
        /// its 15 s deadline) and a reply (at most 30 s of speech) take well under it, so an answer
        /// that seems to run on (a speaker that stopped reporting) holds nobody's session for long.
        public var longestAnswer: Double = 120

        /// Default settings.
        public init(absenceTimeout: Double = 10, maximumLength: Double = 1800, longestAnswer: Double = 120) {
            self.absenceTimeout = absenceTimeout
            self.maximumLength = maximumLength
            self.longestAnswer = longestAnswer
        }
    }

    /// What the recorder must do.
    public enum Action: Sendable, Hashable {
        /// Open a session starting at `time`.
        case open(id: String, time: Double)
        /// Record a second of an open session.
        case measure(id: String, VitalsSecond)
        /// Record an utterance of an open session.
        case turn(id: String, StoredTurn)
        /// Close a session at `time`.
        case close(id: String, time: Double, reason: CloseReason)
    }

    /// Why the tracker closed a session.
    public enum CloseReason: String, Sendable, Hashable {
        case absence, maximumLength, shutdown
    }

    /// The session in progress.
    public struct Current: Sendable, Hashable {
        /// Its id.
        public var id: String
        /// When it started.
        public var start: Double
        /// The end of the last stretch with a person present.
        public var lastSeen: Double
    }

    /// The settings.
    public let configuration: Configuration
    /// The session in progress, if any.
    public private(set) var current: Current?
    /// When the answer in progress began, if the kiosk is answering.
    private var answeringSince: Double?
    private let makeID: @Sendable () -> String

    /// A tracker that names new sessions with `makeID`.
    public init(configuration: Configuration = .init(), makeID: @escaping @Sendable () -> String) {
        self.configuration = configuration
        self.makeID = makeID
    }

    /// Handles one event; events come in time order, except that vitals estimates may
    /// describe a time up to half an analysis window back.
    public mutating func handle(_ event: PipelineEvent) -> [Action] {
        switch event {
        case .presence(let time, let face):
            var actions = advance(to: time)
            if face { actions += present(from: time, to: time + 1) }
            return actions
        case .utterance(let id, let start, let end):
            var actions = advance(to: start)
            actions += present(from: start, to: end)
            if let current { actions.append(.turn(id: current.id, StoredTurn(id: id, start: start - current.start, end: end - current.start))) }
            return actions
        case .vitals(let estimate):
            guard let current, estimate.time >= current.start else { return [] }
            return [.measure(id: current.id, VitalsSecond(
                t: estimate.time - current.start, bpm: estimate.heartRate, snrDb: estimate.snr,
                respirationBpm: estimate.respirationRate,
                rmssdMs: estimate.variability?.rmssd, sdnnMs: estimate.variability?.sdnn))]
        }
    }

    /// Closes the session in progress if the absence timeout or the maximum length has passed
    /// by `time`.
    public mutating func advance(to time: Double) -> [Action] {
        guard let session = current else { return [] }
        if time - session.lastSeen >= configuration.absenceTimeout {
            current = nil
            return [.close(id: session.id, time: session.lastSeen, reason: .absence)]
        }
        if time - session.start >= configuration.maximumLength {
            current = nil
            return [.close(id: session.id, time: session.start + configuration.maximumLength, reason: .maximumLength)]
        }
        return []
    }

    /// Moves the clock to `time`, telling whether the kiosk is answering the patient then (a
    /// turn is with the relay, or a reply is playing). While it answers, for at most
    /// ``Configuration/longestAnswer``, the session in progress is kept open as if the patient had
    /// been seen, so the absence timeout counts from the end of the answer. Closes a session whose
    /// time was already up (``advance(to:)``); opens none.
    public mutating func advance(to time: Double, answering: Bool) -> [Action] {
        let actions = advance(to: time)
        guard answering else {
            answeringSince = nil
            return actions
        }
        let since = answeringSince ?? time
        answeringSince = since
        if var session = current, time - since <= configuration.longestAnswer {
            session.lastSeen = max(session.lastSeen, time)
            current = session
        }
        return actions
    }

    /// Closes the session in progress because input stopped at `time`.
    public mutating func finish(at time: Double) -> [Action] {
        guard let session = current else { return [] }
        current = nil
        return [.close(id: session.id, time: min(time, session.lastSeen), reason: .shutdown)]
    }

    private mutating func present(from start: Double, to end: Double) -> [Action] {
        if var session = current {
            session.lastSeen = max(session.lastSeen, end)
            current = session
            return []
        }
        let session = Current(id: makeID(), start: start, lastSeen: end)
        current = session
        return [.open(id: session.id, time: start)]
    }
}
