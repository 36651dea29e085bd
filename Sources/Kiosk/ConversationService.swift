import EdgeStore
import Foundation
import HHProtocol
import KioskControl
import Logging
import ServiceLifecycle
import Synchronization

/// What the conversation is told: by the recorder (sessions, utterances), the microphone
/// thread (speech starting), its own turn requests and the speaker.
public enum ConversationInput: Sendable {
    /// A session opened.
    case sessionOpened(String)
    /// A session closed.
    case sessionClosed(String)
    /// Utterance `turnID` of session `sessionID` ended; its audio is on the shelf.
    case utterance(turnID: String, sessionID: String, startedAt: Date)
    /// The patient is speaking (enough speech to stop a reply).
    case speechStarted
    /// The relay's answer to turn `turnID`, or why there is none.
    case outcome(turnID: String, TurnOutcome)
    /// The speaker's news.
    case playback(PlaybackEvent)
    /// The clock: a turn past its deadline is failed.
    case tick
    /// The daemon is shutting down.
    case shutdown
}

/// The spoken conversation as a service: runs the ``ConversationMachine`` on what it is told
/// and carries out its actions — turns stored first (so none is lost to a failure or a
/// `kill -9`) and then sent, replies streamed to the ``ReplyPlayer``, the kiosk's own apology
/// played, escalations shown and logged. Turns the relay did not answer are sent again later by
/// ``TurnRedelivery``, never played.
public actor ConversationService: Service {
    /// How the conversation behaves.
    public struct Settings: Sendable {
        /// How long a turn may be with the relay before the kiosk apologises.
        public var turnDeadline = Duration.seconds(15)
        /// When to send a turn that failed again.
        public var retry = RetryPolicy()
        /// With file input: how long, at shutdown, to let a turn in flight and its reply finish.
        public var drainTime: Duration?

        /// The defaults.
        public init() {}
    }

    private let inputs: AsyncStream<ConversationInput>
    private let inbox: AsyncStream<ConversationInput>.Continuation
    private let store: EdgeStore
    private let client: (any TurnSending)?
    private let player: ReplyPlayer
    private let apology: [Int16]
    private let shelf: UtteranceShelf
    private let board: StatusBoard
    private let logger: Logger
    private let settings: Settings
    private let redelivery: TurnRedelivery
    private let io = BlockingIO(label: "conversation-store")
    private var machine: ConversationMachine
    private var playbacks: [String: Playback] = [:]
    private var tasks: [String: Task<Void, Never>] = [:]
    /// Set at shutdown: until when to wait, and whether for a turn in flight too.
    private var closing: (deadline: ContinuousClock.Instant, waitForTurn: Bool)?

    /// A conversation reading `inputs` (whose continuation is `inbox`: the service sends
    /// itself its turns' outcomes and its clock); `redeliveryDoorbell` wakes the delivery of
    /// kept turns (`hhctl flush` rings it).
    public init(
        inputs: AsyncStream<ConversationInput>, inbox: AsyncStream<ConversationInput>.Continuation, store: EdgeStore,
        client: (any TurnSending)?, player: ReplyPlayer, apology: [Int16], shelf: UtteranceShelf, board: StatusBoard,
        logger: Logger, settings: Settings, redeliveryDoorbell: Doorbell = Doorbell()
    ) {
        self.inputs = inputs
        self.inbox = inbox
        self.store = store
        self.client = client
        self.player = player
        self.apology = apology
        self.shelf = shelf
        self.board = board
        self.logger = logger
        self.settings = settings
        self.machine = ConversationMachine(turnDeadline: settings.turnDeadline)
        self.redelivery = TurnRedelivery(
            store: store, client: client, retry: settings.retry, board: board, logger: logger, doorbell: redeliveryDoorbell)
    }

    public func run() async {
        let (inbox, redelivery) = (inbox, redelivery)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(200))
                    inbox.yield(.tick)
                }
            }
            group.addTask { await redelivery.run() }
            await withGracefulShutdownHandler {
                for await input in inputs {
                    await handle(input)
                    if isDone { break }
                }
            } onGracefulShutdown: {
                inbox.yield(.shutdown)
            }
            group.cancelAll()
        }
        for task in tasks.values { task.cancel() }
        for task in tasks.values { await task.value }
        player.close()
        logger.info("conversation stopped")
    }

    /// Whether the service may end: shutting down, with nothing playing and (with file input)
    /// no turn in flight or waiting for the relay, or out of time to wait for them.
    private var isDone: Bool {
        guard let closing else { return false }
        if ContinuousClock.now >= closing.deadline { return true }
        if closing.waitForTurn && (machine.turnsWithTheRelay > 0 || board.snapshot.conversation.waitingTurns > 0) { return false }
        return playbacks.isEmpty
    }

    private func handle(_ input: ConversationInput) async {
        let now = ContinuousClock.now
        switch input {
        case .sessionOpened(let id):
            await perform(machine.sessionOpened(id))
            board.update { $0.conversation.escalation = nil }
        case .sessionClosed(let id):
            await perform(machine.sessionClosed(id))
        case .utterance(let turnID, let sessionID, let startedAt):
            guard let samples = shelf.take(turnID) else {
                logger.warning("utterance audio missing; not sent as a turn", metadata: ["turn": "\(turnID)"])
                return
            }
            guard !TurnAudioLevel.isSilent(samples) else {
                // The relay would refuse it for good; the voice detector heard quiet noise.
                logger.notice("utterance too quiet to be a turn (under -50 dBFS); not sent", metadata: ["turn": "\(turnID)"])
                return
            }
            let turn = ConversationMachine.Turn(id: turnID, sessionID: sessionID, startedAt: startedAt, samples: samples)
            // Stored at once, held back from redelivery while the conversation has it: an
            // utterance waiting behind a turn in flight survives a crash too.
            redelivery.hold(turnID)
            let request = turn.request(vitals: latestVitals)
            await record("turn") { [store] in
                try store.storeVoiceTurn(
                    id: turn.id, session: turn.sessionID, startedAt: turn.startedAt, request: try WireJSON.encoder().encode(request),
                    audio: Data(turn.wav), now: Date())
            }
            await perform(machine.utterance(turn, now: now))
        case .speechStarted:
            let actions = machine.speechStarted()
            if !actions.isEmpty {
                logger.info("barge-in: the patient spoke over the reply")
                board.update { $0.conversation.bargeIns += 1 }
            }
            await perform(actions)
        case .outcome(let turnID, let outcome):
            // Released once the outcome is stored, so redelivery never finds it due meanwhile.
            await settle(turnID, outcome, now: now)
            tasks["send-" + turnID] = nil
            redelivery.release(turnID)
            redelivery.ring()  // the waiting count, which a draining shutdown waits on, changed
        case .playback(.started(let turnID, let latency)):
            logger.debug("reply playing", metadata: ["turn": "\(turnID)", "buffered_ms": "\(latency.inMilliseconds)"])
        case .playback(.speakerRanOut):
            logger.warning("the speaker ran out of samples (a gap was heard)")
            board.update { $0.conversation.speakerUnderruns += 1 }
        case .playback(.finished(let turnID, let end, let underruns)):
            playbacks[turnID] = nil
            tasks.removeValue(forKey: "reply-" + turnID)?.cancel()
            board.update { $0.conversation.underruns += underruns }
            if case .failed(let reason) = end {
                logger.error("the speaker failed", metadata: ["turn": "\(turnID)", "error": "\(reason)"])
                board.update { $0.conversation.lastError = reason }
            }
            await perform(machine.playbackFinished(turnID))
        case .tick:
            await perform(machine.tick(now: now))
        case .shutdown:
            // With file input the visit's last turn and reply may finish; a device kiosk stops
            // at once (the speaker threads get a moment to let the device go).
            closing = (now + (settings.drainTime ?? .seconds(1)), settings.drainTime != nil)
            if settings.drainTime == nil { stopEverything() } else { redelivery.ring() }
        }
        if let closing, now >= closing.deadline { stopEverything() }
        board.update {
            $0.conversation.state = machine.state.rawValue
            $0.conversation.turns = machine.answeredTurns
            $0.conversation.lastTurnLatencyMs = machine.lastTurnLatency?.inMilliseconds
        }
    }

    /// The relay's answer (or none) to the turn in flight.
    private func settle(_ turnID: String, _ outcome: TurnOutcome, now: ContinuousClock.Instant) async {
        switch outcome {
        case .answered(let answer):
            logger.info("turn answered", metadata: [
                "turn": "\(turnID)", "transcript": "\(answer.transcript)", "reply": "\(answer.reply.text)",
                "relay_ms": "\(answer.timingsMs.total)",
            ])
            await record("answer") { [store] in try store.markVoiceTurnAnswered(id: turnID, transcript: answer.transcript, replyText: answer.reply.text) }
            await perform(machine.answered(turnID, .init(audioURL: answer.reply.audioURL, escalation: answer.escalation.raised ? answer.escalation.reason ?? "raised" : nil), now: now))
        case .retryLater(let reason):
            await perform(machine.failed(turnID, reason: reason, now: now))
        case .refused(let reason):
            logger.error("the relay refused a turn", metadata: ["turn": "\(turnID)", "reason": "\(reason)"])
            await record("refusal") { [store] in try store.markVoiceTurnFailed(id: turnID, reason: reason) }
            await perform(machine.failed(turnID, reason: reason, now: now))
        }
    }

    private func perform(_ actions: [ConversationMachine.Action]) async {
        for action in actions {
            switch action {
            case .send(let turn):
                send(turn)
            case .play(let turnID, let audioURL):
                guard let client else { continue }
                let playback = player.start(turnID: turnID)
                playbacks[turnID] = playback
                let logger = logger
                tasks["reply-" + turnID] = Task {
                    do {
                        for try await samples in client.reply(audioURL) { playback.append(samples) }
                    } catch {
                        logger.error("the reply could not be streamed", metadata: ["turn": "\(turnID)", "error": "\(error)"])
                    }
                    playback.finish()
                }
            case .stopPlayback(let turnID):
                playbacks[turnID]?.stop()
                tasks.removeValue(forKey: "reply-" + turnID)?.cancel()
            case .apologise(let turnID):
                board.update { $0.conversation.apologies += 1 }
                let id = "apology-" + turnID
                playbacks[id] = player.play(apology, turnID: id)
            case .keepForLater(let turn, let reason):
                // Stored already (when it was spoken, or as sent); a turn that was sent and
                // failed waits out a backoff, one never sent is due at once.
                logger.notice("turn kept for later delivery", metadata: ["turn": "\(turn.id)", "reason": "\(reason)"])
                let (request, wav, delay) = (turn.request(vitals: nil), turn.wav, settings.retry.delay(afterFailures: 1, random: { Double.random(in: 0..<1) }))
                let wasSent = tasks["send-" + turn.id] != nil
                await record("turn kept for later") { [store] in
                    try store.storeVoiceTurn(
                        id: turn.id, session: turn.sessionID, startedAt: turn.startedAt, request: try WireJSON.encoder().encode(request),
                        audio: Data(wav), now: Date())
                    if wasSent { try store.markVoiceTurnWaiting(id: turn.id, error: reason, notBefore: Date().addingTimeInterval(delay)) }
                }
                // A sent turn is released with its outcome: until then its request may still be
                // with the relay, and redelivery must not send it a second time alongside.
                if !wasSent {
                    for id in [turn.id] + turn.absorbed { redelivery.release(id) }
                }
                redelivery.ring()
            case .escalate(let turnID, let reason):
                logger.warning("escalation raised by the relay", metadata: ["turn": "\(turnID)", "reason": "\(reason)"])
                board.update { $0.conversation.escalation = reason }
            case .discardLateAnswer(let turnID):
                logger.info("late answer not played", metadata: ["turn": "\(turnID)"])
                tasks.removeValue(forKey: "reply-" + turnID)?.cancel()
            }
        }
    }

    /// The latest vitals with their quality, for a turn's request.
    private var latestVitals: VoiceTurnRequest.Vitals? {
        let heartRate = board.snapshot.heartRate
        guard heartRate.bpm != nil || heartRate.respirationBpm != nil else { return nil }
        return .init(heartRateBpm: heartRate.bpm, heartRateSnrDb: heartRate.snrDb, respirationBpm: heartRate.respirationBpm)
    }

    /// Stores turn `turn` as it is sent (the latest vitals, the utterances merged into it; due
    /// now, so it survives whatever happens next) and then sends it; its outcome comes back as
    /// an input.
    private func send(_ turn: ConversationMachine.Turn) {
        let vitals = latestVitals
        let (store, io, client, inbox, logger, redelivery) = (store, io, client, inbox, logger, redelivery)
        tasks["send-" + turn.id] = Task {
            let request = turn.request(vitals: vitals)
            let audio = turn.wav
            do {
                let json = try WireJSON.encoder().encode(request)
                try await io.run {
                    try store.storeVoiceTurnAsSent(
                        id: turn.id, session: turn.sessionID, startedAt: turn.startedAt, request: json, audio: Data(audio),
                        absorbing: turn.absorbed, now: Date())
                }
                for id in turn.absorbed { redelivery.release(id) }  // their rows are gone
            } catch {
                // Still worth answering now; it just could not be kept for a retry.
                logger.error("could not store a turn", metadata: ["turn": "\(turn.id)", "error": "\(error)"])
            }
            logger.info("turn sent", metadata: ["turn": "\(turn.id)", "session": "\(turn.sessionID)", "seconds": "\(Double(turn.samples.count) / 16_000)"])
            let outcome = await client?.send(request, sessionID: turn.sessionID, audio: audio) ?? .retryLater("not enrolled")
            inbox.yield(.outcome(turnID: turn.id, outcome))
        }
    }

    /// Runs a store write off the cooperative pool (in order: the conversation waits for it),
    /// logging a failure.
    private func record(_ what: String, _ body: @escaping @Sendable () throws -> Void) async {
        do { try await io.run(body) } catch { logger.error("could not store a \(what)", metadata: ["error": "\(error)"]) }
    }

    /// Stops every playback and reply download (shutdown).
    private func stopEverything() {
        for playback in playbacks.values { playback.stop() }
        for (key, task) in tasks where key.hasPrefix("reply-") { task.cancel() }
    }
}

/// Sends again, in order, the turns the relay did not answer when they were spoken (stored as
/// `waiting`), with backoff, until each is answered or refused. An answer is stored (the
/// transcript and reply shown by `hhctl sessions`), never played: its conversation has moved on.
/// Turns the conversation has in flight are held back, so none is sent twice at once (a turn
/// sent twice in turn is answered once by the relay, which keys turns by id).
final class TurnRedelivery: Sendable {
    private let store: EdgeStore
    private let client: (any TurnSending)?
    private let retry: RetryPolicy
    private let board: StatusBoard
    private let logger: Logger
    private let doorbell: Doorbell
    /// The turns the conversation has, and how many it has let go so far.
    private let held = Mutex<(ids: Set<String>, releases: Int)>(([], 0))
    private let io = BlockingIO(label: "turn-redelivery")

    /// Redelivery woken by `doorbell` (rung by the conversation, and by `hhctl flush`).
    init(store: EdgeStore, client: (any TurnSending)?, retry: RetryPolicy, board: StatusBoard, logger: Logger, doorbell: Doorbell) {
        self.doorbell = doorbell
        self.store = store
        self.client = client
        self.retry = retry
        self.board = board
        self.logger = logger
    }

    /// Keeps turn `id` back: the conversation is sending it.
    func hold(_ id: String) { _ = held.withLock { $0.ids.insert(id) } }

    /// Lets turn `id` go: the conversation is done with it.
    func release(_ id: String) {
        held.withLock {
            if $0.ids.remove(id) != nil { $0.releases += 1 }
        }
    }

    /// A turn was kept for later: look again now.
    func ring() { doorbell.ring() }

    /// Delivers until cancelled.
    func run() async {
        while !Task.isCancelled {
            var wait = Duration.seconds(60)
            do {
                if let client {
                    var attempted: Set<String> = []
                    while !Task.isCancelled {
                        // Read again before each turn, with what is held after the read, and read
                        // again if the conversation let a turn go meanwhile. A turn is held
                        // before it is stored and let go only once it is answered, kept for
                        // later, or merged and its row gone; so a turn due in the read and not
                        // held after it, with nothing let go in between, is the redelivery's.
                        // (A list read once sent a merged utterance a second time; the hold
                        // looked at only before the read, a new utterance held and stored in
                        // between: one run in seven of `ConversationServiceTests`' merge test.)
                        let releases = held.withLock { $0.releases }
                        let due = try await io.run { [store] in try store.dueVoiceTurns(now: Date()) }
                        let (inFlight, releasedMeanwhile) = held.withLock { ($0.ids, $0.releases != releases) }
                        if releasedMeanwhile { continue }
                        guard let turn = due.first(where: { !inFlight.contains($0.id) && !attempted.contains($0.id) }) else { break }
                        attempted.insert(turn.id)
                        await deliver(turn, client: client)
                    }
                    guard !Task.isCancelled else { return }
                    let inFlight = held.withLock { $0.ids }
                    if let next = try await io.run({ [store] in try store.nextVoiceTurnDue(excluding: inFlight) }) {
                        wait = .milliseconds(Int64(min(60, max(0.05, next.timeIntervalSinceNow)) * 1000))
                    }
                }
                let waiting = try await io.run { [store] in try store.voiceTurnBacklog().waiting }
                board.update { $0.conversation.waitingTurns = waiting }
            } catch {
                logger.error("could not read the waiting turns", metadata: ["error": "\(error)"])
            }
            await doorbell.wait(for: wait)
        }
    }

    private func deliver(_ turn: StoredVoiceTurn, client: any TurnSending) async {
        guard let audio = turn.audio, let request = try? WireJSON.decoder().decode(VoiceTurnRequest.self, from: turn.request) else {
            try? await io.run { [store] in try store.markVoiceTurnFailed(id: turn.id, reason: "stored turn unreadable") }
            return
        }
        let outcome = await client.send(request, sessionID: turn.sessionID, audio: Array(audio))
        guard !Task.isCancelled else { return }  // stopped mid-request: not an attempt that failed
        do {
            switch outcome {
            case .answered(let answer):
                logger.info("waiting turn delivered", metadata: ["turn": "\(turn.id)", "transcript": "\(answer.transcript)", "attempts": "\(turn.attempts + 1)"])
                if answer.escalation.raised {
                    let reason = answer.escalation.reason ?? "raised"
                    logger.warning("escalation raised by the relay (late answer, not played)", metadata: ["turn": "\(turn.id)", "reason": "\(reason)"])
                    board.update { $0.conversation.escalation = reason }
                }
                try await io.run { [store] in try store.markVoiceTurnAnswered(id: turn.id, transcript: answer.transcript, replyText: answer.reply.text) }
            case .retryLater(let reason):
                let delay = retry.delay(afterFailures: turn.attempts + 1, random: { Double.random(in: 0..<1) })
                try await io.run { [store] in try store.markVoiceTurnWaiting(id: turn.id, error: reason, notBefore: Date().addingTimeInterval(delay)) }
            case .refused(let reason):
                logger.error("the relay refused a waiting turn", metadata: ["turn": "\(turn.id)", "reason": "\(reason)"])
                try await io.run { [store] in try store.markVoiceTurnFailed(id: turn.id, reason: reason) }
            }
        } catch {
            logger.error("could not store a turn's delivery", metadata: ["turn": "\(turn.id)", "error": "\(error)"])
        }
    }
}

extension Duration {
    /// The duration in milliseconds.
    var inMilliseconds: Double { self / .milliseconds(1) }
}
