import EdgeStore
import Foundation
import KioskControl
import Logging
import ServiceLifecycle
import Synchronization

/// Delivers closed sessions to the relay, strictly in order, at least once (the session id
/// is the relay's idempotency key): a thin shell that reads the outbox, asks the
/// ``DeliveryMachine`` what to do, and does it (upload, store the outcome, wait).
///
/// The store's calls run on their own thread (``BlockingIO``); waits are on the monotonic
/// clock and end early when the doorbell rings (new work, `hhctl flush`, shutdown) or the task
/// is cancelled. On shutdown an upload in flight is finished; with a drain time (fast file
/// input) delivery goes on until the outbox is empty or that time has passed.
public actor OutboxService: Service {
    private let store: EdgeStore
    private let relay: (any RelayUploading)?
    private let board: StatusBoard
    private let logger: Logger
    private let doorbell: Doorbell
    private let io = BlockingIO(label: "outbox-store")
    private var machine: DeliveryMachine

    /// A service delivering `store`'s outbox to `relay` (`nil`: none configured, sessions wait),
    /// reporting on `board`; `doorbell` wakes it, `drainTime` as in ``DeliveryMachine``.
    public init(
        store: EdgeStore, relay: (any RelayUploading)?, policy: RetryPolicy, board: StatusBoard, logger: Logger,
        doorbell: Doorbell, drainTime: Duration?
    ) {
        self.store = store
        self.relay = relay
        self.board = board
        self.logger = logger
        self.doorbell = doorbell
        machine = DeliveryMachine(policy: policy, drainTime: drainTime)
    }

    public func run() async throws {
        let shutdown = ShutdownFlag()
        await withGracefulShutdownHandler {
            await deliverLoop(shutdown: shutdown)
        } onGracefulShutdown: { [doorbell] in
            shutdown.set()
            doorbell.ring()
        }
        logger.info("outbox stopped")
    }

    private func deliverLoop(shutdown: ShutdownFlag) async {
        while !Task.isCancelled {
            let head: Result<OutboxRecord?, any Error>
            do { head = .success(try await io.run { [store] in try store.outboxHead() }) } catch {
                logger.error("cannot read the outbox", metadata: ["error": "\(error)"])
                head = .failure(error)
            }
            let action = machine.next(head: head, relayConfigured: relay != nil, shuttingDown: shutdown.isSet, wallNow: Date(), now: .now)
            switch action {
            case .stop:
                return
            case .wait(let duration, let nextAttempt):
                if let nextAttempt { board.update { $0.relay.nextAttempt = nextAttempt } }
                await doorbell.wait(for: duration)
            case .upload(let record):
                guard let relay else { return }
                await attempt(record, relay: relay)
            case .probe:
                guard let relay else { return }
                await probe(relay)
            }
        }
    }

    /// One upload of the outbox's head and its bookkeeping.
    private func attempt(_ record: OutboxRecord, relay: any RelayUploading) async {
        let result = await relay.upload(sessionID: record.id, document: record.document)
        let now = Date()
        switch result {
        case .answered(let status, _, _):
            board.update {
                $0.relay.reachable = true
                if status < 300 { $0.relay.lastSuccess = now }
            }
        case .unreachable:
            board.update { $0.relay.reachable = false }
        }
        let settlement = machine.settle(record, result: result, wallNow: now, random: Double.random(in: 0..<1))
        do {
            try await io.run { [store] in try Self.write(settlement, to: store) }
        } catch {
            logger.error("cannot update the outbox", metadata: ["session": "\(record.id)", "error": "\(error)"])
        }
        switch settlement {
        case .delivered:
            board.update {
                $0.relay.lastError = nil
                $0.relay.nextAttempt = nil
            }
            logger.info("session delivered", metadata: ["session": "\(record.id)", "attempts": "\(record.attempts + 1)"])
        case .failed(_, let reason, let notBefore, let delay):
            board.update {
                $0.relay.lastError = reason
                $0.relay.nextAttempt = notBefore
            }
            logger.warning("session delivery failed, will retry", metadata: [
                "session": "\(record.id)", "error": "\(reason)", "retry_in_s": "\(delay.formatted(.number.precision(.fractionLength(1))))",
            ])
        case .rejected(_, let reason):
            board.update { $0.relay.lastError = "rejected \(record.id): \(reason)" }
            logger.error("relay rejected a session; set aside", metadata: ["session": "\(record.id)", "reason": "\(reason)"])
        }
        // The outbox figures for the watchdog's STATUS line (`hhctl status` reads the store afresh).
        if let statistics = try? await io.run({ [store] in try store.outboxStatistics() }) {
            board.update { $0.outbox = KioskStatus.Outbox(statistics, now: now) }
        }
    }

    /// Asks the relay whether it is there and shows the answer in the status: a wrong URL or a
    /// relay that is down is seen before any session needs it.
    private func probe(_ relay: any RelayUploading) async {
        let result = await relay.probe()
        let reason: String?
        switch result {
        case .answered(200, _, _): reason = nil
        case .answered(503, _, let message): reason = "the relay answers but is not ready (503\(message.isEmpty ? "" : ": " + message))"
        case .answered(let status, _, _): reason = "GET /health answered HTTP \(status): is relay.url an hh-relay?"
        case .unreachable(let error): reason = "unreachable: \(error)"
        }
        board.update {
            $0.relay.reachable = reason == nil
            $0.relay.lastError = reason
        }
        if let reason { logger.warning("relay check failed", metadata: ["error": "\(reason)"]) }
    }

    private static func write(_ settlement: DeliveryMachine.Settlement, to store: EdgeStore) throws {
        switch settlement {
        case .delivered(let id, let time): try store.markDelivered(id: id, at: time)
        case .failed(let id, let reason, let notBefore, _): try store.markFailed(id: id, error: reason, notBefore: notBefore)
        case .rejected(let id, let reason): try store.markRejected(id: id, reason: reason)
        }
    }
}

/// A flag set once, from any thread.
final class ShutdownFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Sets the flag.
    func set() { flag.store(true, ordering: .releasing) }
    /// Whether the flag is set.
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
