import EdgeStore
import Foundation
import HHProtocol
import KioskControl
import Logging
import ServiceLifecycle

/// Turns capture events into sessions in the store: merges the two capture threads in time
/// order, runs the ``SessionTracker`` and commits each of its actions before anything else
/// hears of it. A session that closes goes into the outbox in the same transaction. The
/// store's commits (an fsync each) run on a thread of their own (``BlockingIO``).
actor Recorder: Service {
    private let events: AsyncStream<CaptureEvent>
    private let sources: Set<EventMerger.SourceID>
    private let store: EdgeStore
    private let board: StatusBoard
    private let logger: Logger
    private let metadata: SessionMetadata
    private let wallEpoch: Date
    private let outbox: Doorbell
    private let capture: CaptureService
    private let conversation: @Sendable (ConversationInput) -> Void
    private let isAnswering: @Sendable () -> Bool
    private let io = BlockingIO(label: "recorder-store")
    private var tracker: SessionTracker
    private var merger: EventMerger
    private var openedAt: [String: Date] = [:]
    private var lastTime = 0.0
    /// How far the open session's presence has been committed, seconds from its start.
    private var presenceCommitted: (id: String, seconds: Double)?

    init(
        events: AsyncStream<CaptureEvent>, sources: Set<EventMerger.SourceID>, store: EdgeStore, board: StatusBoard,
        logger: Logger, tracker: SessionTracker, metadata: SessionMetadata, wallEpoch: Date, outbox: Doorbell, capture: CaptureService,
        conversation: @escaping @Sendable (ConversationInput) -> Void = { _ in },
        isAnswering: @escaping @Sendable () -> Bool = { false }
    ) {
        self.conversation = conversation
        self.isAnswering = isAnswering
        self.events = events
        self.sources = sources
        self.store = store
        self.board = board
        self.logger = logger
        self.tracker = tracker
        self.metadata = metadata
        self.wallEpoch = wallEpoch
        self.outbox = outbox
        self.capture = capture
        self.merger = EventMerger(sources: sources)
    }

    /// Closes the sessions a previous run left open (it was killed): their recorded seconds
    /// are kept and sent like any other session, marked `interrupted`.
    static func recoverInterrupted(store: EdgeStore, metadata: SessionMetadata, logger: Logger) throws(StoreError) {
        for session in try store.openSessions() {
            let measurements = try store.measurements(session: session.id)
            let turns = try store.turns(session: session.id)
            // Up to the last thing recorded: an estimate, an utterance, or a moment of presence.
            let span = max(measurements.last?.t ?? 0, turns.map(\.end).max() ?? 0, session.lastSeenS ?? 0)
            try close(
                session.id, startedAt: session.startedAt, endedAt: session.startedAt.addingTimeInterval(span), reason: .interrupted,
                measurements: measurements, turns: turns, store: store, metadata: metadata)
            logger.notice("closed session left open by the previous run", metadata: ["session": "\(session.id)", "seconds": "\(measurements.count)"])
        }
    }

    /// Builds a session's document from what the store holds and moves it to the outbox.
    @discardableResult
    private static func close(
        _ id: String, startedAt: Date, endedAt: Date, reason: SessionDocument.EndReason,
        measurements: [VitalsSecond], turns: [StoredTurn], store: EdgeStore, metadata: SessionMetadata
    ) throws(StoreError) -> SessionDocument {
        let document = SessionDocumentBuilder.document(
            id: id, startedAt: startedAt, endedAt: endedAt, reason: reason, measurements: measurements, turns: turns, metadata: metadata)
        let data: Data
        do { data = try WireJSON.encoder().encode(document) } catch { throw .database("encoding session \(id): \(error)") }
        try store.closeSession(id: id, endedAt: endedAt, document: data)
        return document
    }

    /// Records until every source has ended or the event stream does, then closes the open
    /// session. Told to shut down, it stops capture and records what the threads still send.
    func run() async throws {
        var active = sources
        await withGracefulShutdownHandler {
            await record(active: &active)
        } onGracefulShutdown: { [capture] in
            capture.stop()
        }
        for released in merger.release() {
            lastTime = max(lastTime, released.time)
            await perform(tracker.handle(released))
        }
        await perform(tracker.finish(at: lastTime + 1))
        logger.info("recorder stopped")
    }

    private func record(active: inout Set<EventMerger.SourceID>) async {
        for await event in events {
            switch event {
            case .event(let pipelineEvent, let progress, let source):
                merger.push(pipelineEvent, progress: progress, from: source)
            case .up(let source, let time):
                merger.resume(source, at: time)
            case .down(let source):
                merger.finish(source)
            case .ended(let source):
                merger.finish(source)
                active.remove(source)
            }
            for released in merger.release() {
                lastTime = max(lastTime, released.time)
                await perform(tracker.handle(released))
            }
            let watermark = merger.watermark
            if watermark.isFinite { await perform(tracker.advance(to: watermark, answering: isAnswering())) }
            await commitPresence()
            if active.isEmpty { break }
        }
    }

    /// Commits how far the open session's presence reaches, at most once a second of media
    /// time, so a session cut short by `kill -9` is recovered to its last moment of presence.
    private func commitPresence() async {
        guard let current = tracker.current else { return }
        let seconds = current.lastSeen - current.start
        if let committed = presenceCommitted, committed.id == current.id, seconds < committed.seconds + 1 { return }
        do {
            try await io.run { [store] in try store.recordPresence(session: current.id, through: seconds) }
            presenceCommitted = (current.id, seconds)
        } catch {
            logger.error("could not store a session update", metadata: ["error": "\(error)"])
        }
    }

    /// Carries out the tracker's actions against the store.
    private func perform(_ actions: [SessionTracker.Action]) async {
        for action in actions {
            do {
                try await apply(action)
                board.update {
                    $0.storage.state = "ok"
                    $0.storage.lastError = nil
                }
            } catch {
                logger.error("could not store a session update", metadata: ["error": "\(error)"])
                board.update {
                    if case .full = error as? StoreError { $0.storage.state = "full" }
                    $0.storage.lastError = "\(error)"
                }
            }
        }
    }

    private func apply(_ action: SessionTracker.Action) async throws {
        switch action {
        case .open(let id, let time):
            let startedAt = wallEpoch.addingTimeInterval(time)
            openedAt[id] = startedAt
            // The conversation hears first: a store that cannot write must not silence the kiosk.
            conversation(.sessionOpened(id))
            try await io.run { [store] in try store.openSession(id: id, startedAt: startedAt) }
            logger.info("session started", metadata: ["session": "\(id)"])
            board.update { $0.session = KioskStatus.Session(id: id, startedAt: startedAt, durationS: 0, turns: 0) }
        case .measure(let id, let measurement):
            try await io.run { [store] in try store.record(measurement, session: id) }
            let now = wallEpoch.addingTimeInterval(lastTime)
            board.update {
                guard var session = $0.session, session.id == id else { return }
                session.durationS = max(session.durationS, now.timeIntervalSince(session.startedAt))
                $0.session = session
            }
        case .turn(let id, let turn):
            if let startedAt = openedAt[id] {
                conversation(.utterance(turnID: turn.id, sessionID: id, startedAt: startedAt.addingTimeInterval(turn.start)))
            }
            try await io.run { [store] in try store.record(turn, session: id) }
            board.update { if $0.session?.id == id { $0.session?.turns += 1 } }
        case .close(let id, let time, let reason):
            guard let startedAt = openedAt.removeValue(forKey: id) else { return }
            // Input stopping (the daemon's shutdown, or the end of the files) is the
            // conversation's own shutdown to handle: from files, the last answer still plays.
            if reason != .shutdown { conversation(.sessionClosed(id)) }
            let endedAt = max(startedAt, wallEpoch.addingTimeInterval(time))
            let document = try await io.run { [store, metadata] in
                try Self.close(
                    id, startedAt: startedAt, endedAt: endedAt, reason: reason.documentReason,
                    measurements: try store.measurements(session: id), turns: try store.turns(session: id), store: store, metadata: metadata)
            }
            logger.info("session ended", metadata: [
                "session": "\(id)", "reason": "\(reason.rawValue)",
                "seconds": "\(document.heartRate.count)", "turns": "\(document.voiceTurns.count)",
            ])
            board.update { if $0.session?.id == id { $0.session = nil } }
            outbox.ring()
        }
    }
}

extension SessionTracker.CloseReason {
    /// The reason as the wire document names it.
    var documentReason: SessionDocument.EndReason {
        switch self {
        case .absence: .absence
        case .maximumLength: .maximumLength
        case .shutdown: .shutdown
        }
    }
}
