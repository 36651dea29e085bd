import Foundation

/// The kiosk's side of the spoken conversation, as a pure state machine: it is told what
/// happened (an utterance, speech starting, an answer, a failure, the time) and returns what
/// to do (send a turn, play or stop a reply, apologise, keep a turn for later). No I/O and no
/// clock of its own, so every rule below is unit-tested with injected time.
///
/// The rules:
/// * **One turn at a time, in order.** A session's utterances become turns sent one after the
///   other. An utterance that ends while a turn is in flight waits; several waiting are merged
///   into one turn (their audio joined with ``mergeGap`` of silence, the first one's id and
///   start), because a patient who speaks twice while the kiosk thinks is finishing one
///   thought, and one answer to both serves them better than two answers in a row.
/// * **Replies in order.** An answer that comes while another reply plays is played after it.
/// * **Barge-in.** Speech starting while a reply plays stops the reply at once (and drops the
///   replies queued behind it: the patient has moved on); what they say becomes the next turn.
/// * **Failure.** A turn the relay does not answer (unreachable, timed out, 5xx) gets the
///   kiosk's own spoken apology, and the turn is kept for later delivery (the outbox) so that
///   the clinician still sees what was said. A turn with no answer after ``turnDeadline`` is
///   failed the same way; its answer, should it come later, is not played.
/// * **Late answers** (a failed turn's, or one for a session that has closed) are never played
///   into a later conversation; an escalation in one is still shown and logged.
/// * **A new session waits for nothing of the last.** A turn still with the relay when its
///   session closes is let go of: the next patient's first turn is sent at once, not after it.
///   It is answered (and kept by the relay) or, failing or past its deadline, kept for later.
/// * **Escalation.** An answer with an escalation stops whatever plays and is played at once.
public struct ConversationMachine: Sendable {
    /// What the kiosk is doing, as `hhctl status` shows it.
    public enum State: String, Sendable, Hashable, Codable {
        /// No session.
        case idle
        /// A session is open and nothing is in flight or playing.
        case listening
        /// A turn is with the relay.
        case thinking
        /// A reply is playing.
        case speaking

        /// The kiosk is answering: the patient waits for it (thinking) or listens (speaking).
        public var isAnswering: Bool { self == .thinking || self == .speaking }
    }

    /// One utterance, or several merged, on its way to the relay.
    public struct Turn: Sendable, Hashable {
        /// The turn id, made on the kiosk (the relay's idempotency key).
        public var id: String
        /// The session it belongs to.
        public var sessionID: String
        /// When the patient started speaking.
        public var startedAt: Date
        /// The utterance, 16 kHz mono.
        public var samples: [Int16]
        /// The ids of the utterances merged into this one after its first (each was a turn of
        /// its own until then).
        public var absorbed: [String]

        /// A turn of `samples` spoken from `startedAt` in session `sessionID`.
        public init(id: String, sessionID: String, startedAt: Date, samples: [Int16], absorbed: [String] = []) {
            self.id = id
            self.sessionID = sessionID
            self.startedAt = startedAt
            self.samples = samples
            self.absorbed = absorbed
        }
    }

    /// The relay's answer to a turn, as far as the conversation needs it.
    public struct Answer: Sendable, Hashable {
        /// Where the spoken reply streams from.
        public var audioURL: String
        /// Why the relay escalated, when it did.
        public var escalation: String?

        /// An answer whose reply streams from `audioURL`.
        public init(audioURL: String, escalation: String? = nil) {
            self.audioURL = audioURL
            self.escalation = escalation
        }
    }

    /// What to do.
    public enum Action: Sendable, Hashable {
        /// Send this turn to the relay.
        case send(Turn)
        /// Stream and play the reply of turn `turnID` from `audioURL`.
        case play(turnID: String, audioURL: String)
        /// Stop the reply of `turnID` now.
        case stopPlayback(turnID: String)
        /// Play the kiosk's own apology for `turnID` (no network needed).
        case apologise(turnID: String)
        /// Keep this turn for delivery when the relay is back.
        case keepForLater(Turn, reason: String)
        /// Show and log an escalation (warning level).
        case escalate(turnID: String, reason: String)
        /// An answer that came too late to be played; for the log and the counters.
        case discardLateAnswer(turnID: String)
    }

    /// The silence put between merged utterances.
    public static let mergeGap = Duration.milliseconds(300)
    /// Samples per second of a turn's audio.
    public static let sampleRate = 16_000

    /// How long a turn may be with the relay before it is failed.
    public let turnDeadline: Duration

    /// The open session, if any.
    public private(set) var sessionID: String?
    /// The open session's turn with the relay and when it was sent.
    private var inFlight: (turn: Turn, sentAt: ContinuousClock.Instant)?
    /// Turns of closed sessions still with the relay, oldest first.
    private var closedSessionsTurns: [(turn: Turn, sentAt: ContinuousClock.Instant)] = []
    /// Utterances that ended while a turn was in flight, oldest first.
    private var waiting: [Turn] = []
    /// The turn whose reply is playing.
    public private(set) var playing: String?
    /// Replies waiting for the one playing, oldest first.
    private var queuedReplies: [(turnID: String, audioURL: String)] = []
    /// Turns answered since start.
    public private(set) var answeredTurns = 0
    /// From sending the last answered turn to its answer.
    public private(set) var lastTurnLatency: Duration?

    /// A machine failing turns not answered within `turnDeadline`.
    public init(turnDeadline: Duration = .seconds(15)) {
        self.turnDeadline = turnDeadline
    }

    /// Turns sent and not yet answered, failed or past their deadline: the open session's and
    /// those of closed sessions.
    public var turnsWithTheRelay: Int { (inFlight == nil ? 0 : 1) + closedSessionsTurns.count }

    /// What the kiosk is doing now.
    public var state: State {
        if playing != nil { return .speaking }
        if inFlight != nil { return .thinking }
        return sessionID == nil ? .idle : .listening
    }

    /// A session opened.
    public mutating func sessionOpened(_ id: String) -> [Action] {
        sessionID = id
        return []
    }

    /// The session closed: nothing more of it is played; a turn in flight may still be answered
    /// (and stored by the relay) but its answer is not played, and the next session's turns do
    /// not wait for it; waiting utterances are kept for later delivery.
    public mutating func sessionClosed(_ id: String) -> [Action] {
        guard sessionID == id else { return [] }
        sessionID = nil
        if let current = inFlight {
            closedSessionsTurns.append(current)
            inFlight = nil
        }
        var actions: [Action] = waiting.map { .keepForLater($0, reason: "the session closed before it was sent") }
        waiting = []
        actions += queuedReplies.map { .discardLateAnswer(turnID: $0.turnID) }
        queuedReplies = []
        if let playing {
            actions.append(.stopPlayback(turnID: playing))
            self.playing = nil
        }
        return actions
    }

    /// The patient started speaking (the voice detector's onset).
    public mutating func speechStarted() -> [Action] {
        guard let playing else { return [] }
        self.playing = nil
        let dropped = queuedReplies.map { Action.discardLateAnswer(turnID: $0.turnID) }
        queuedReplies = []
        return [.stopPlayback(turnID: playing)] + dropped
    }

    /// An utterance ended: it becomes a turn now, or waits for the one in flight.
    public mutating func utterance(_ turn: Turn, now: ContinuousClock.Instant) -> [Action] {
        guard turn.sessionID == sessionID else { return [.keepForLater(turn, reason: "no open session")] }
        if inFlight != nil {
            waiting.append(turn)
            return []
        }
        return [send(turn, now: now)]
    }

    /// The relay answered turn `turnID`.
    public mutating func answered(_ turnID: String, _ answer: Answer, now: ContinuousClock.Instant) -> [Action] {
        guard let current = inFlight, current.turn.id == turnID else {
            // A closed session's or a failed turn's: not played; an escalation in it is still
            // shown and logged, whenever it comes.
            closedSessionsTurns.removeAll { $0.turn.id == turnID }
            var actions: [Action] = answer.escalation.map { [.escalate(turnID: turnID, reason: $0)] } ?? []
            actions.append(.discardLateAnswer(turnID: turnID))
            return actions
        }
        inFlight = nil
        answeredTurns += 1
        lastTurnLatency = current.sentAt.duration(to: now)
        var actions: [Action] = []
        if let reason = answer.escalation {
            // An escalation interrupts whatever plays and goes first.
            actions.append(.escalate(turnID: turnID, reason: reason))
            if let playing { actions.append(.stopPlayback(turnID: playing)) }
            actions += queuedReplies.map { .discardLateAnswer(turnID: $0.turnID) }
            queuedReplies = []
            playing = nil
        }
        if playing == nil {
            playing = turnID
            actions.append(.play(turnID: turnID, audioURL: answer.audioURL))
        } else {
            queuedReplies.append((turnID, answer.audioURL))
        }
        return actions + sendWaiting(now: now)
    }

    /// The relay did not answer turn `turnID` (unreachable, 5xx, timed out in the client).
    public mutating func failed(_ turnID: String, reason: String, now: ContinuousClock.Instant) -> [Action] {
        if let index = closedSessionsTurns.firstIndex(where: { $0.turn.id == turnID }) {
            return [.keepForLater(closedSessionsTurns.remove(at: index).turn, reason: reason)]
        }
        guard let current = inFlight, current.turn.id == turnID else { return [] }
        return fail(current.turn, reason: reason, now: now)
    }

    /// The time is `now`: a turn in flight past its deadline is failed.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        let (reason, deadline) = ("no answer within \(turnDeadline)", turnDeadline)
        let late = closedSessionsTurns.filter { $0.sentAt.duration(to: now) > deadline }
        closedSessionsTurns.removeAll { $0.sentAt.duration(to: now) > deadline }
        let actions = late.map { Action.keepForLater($0.turn, reason: reason) }
        guard let current = inFlight, current.sentAt.duration(to: now) > turnDeadline else { return actions }
        return actions + fail(current.turn, reason: reason, now: now)
    }

    /// The reply of `turnID` finished playing (or was stopped).
    public mutating func playbackFinished(_ turnID: String) -> [Action] {
        guard playing == turnID else { return [] }
        playing = nil
        guard !queuedReplies.isEmpty else { return [] }
        let next = queuedReplies.removeFirst()
        playing = next.turnID
        return [.play(turnID: next.turnID, audioURL: next.audioURL)]
    }

    private mutating func fail(_ turn: Turn, reason: String, now: ContinuousClock.Instant) -> [Action] {
        inFlight = nil
        return [.keepForLater(turn, reason: reason), .apologise(turnID: turn.id)] + sendWaiting(now: now)
    }

    private mutating func send(_ turn: Turn, now: ContinuousClock.Instant) -> Action {
        inFlight = (turn, now)
        return .send(turn)
    }

    private mutating func sendWaiting(now: ContinuousClock.Instant) -> [Action] {
        guard inFlight == nil, let first = waiting.first, first.sessionID == sessionID else { return [] }
        let gap = [Int16](repeating: 0, count: Int(Double(Self.sampleRate) * (Self.mergeGap / .seconds(1))))
        var merged = first
        for next in waiting.dropFirst() {
            merged.samples += gap + next.samples
            merged.absorbed += [next.id] + next.absorbed
        }
        waiting = []
        return [send(merged, now: now)]
    }
}
