import EdgeStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Delivers closed sessions to the relay, strictly in order, at least once (the session id
/// is the relay's idempotency key). Failures back off exponentially with jitter, `Retry-After`
/// is honoured, and a session the relay refuses for good is set aside with the reason.
///
/// On shutdown an upload in flight is finished; with `drainSeconds` set (fast file input)
/// delivery goes on until the outbox is empty or that time has passed.
actor OutboxService: Service {
    private let store: EdgeStore
    private let relay: (any RelayUploading)?
    private let policy: RetryPolicy
    private let board: StatusBoard
    private let logger: Logger
    private let doorbell: Doorbell
    private let drainSeconds: Double?
    private var consecutiveFailures = 0

    init(
        store: EdgeStore, relay: (any RelayUploading)?, policy: RetryPolicy, board: StatusBoard, logger: Logger,
        doorbell: Doorbell, drainSeconds: Double?
    ) {
        self.store = store
        self.relay = relay
        self.policy = policy
        self.board = board
        self.logger = logger
        self.doorbell = doorbell
        self.drainSeconds = drainSeconds
    }

    func run() async throws {
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
        var drainDeadline: Date?
        while !Task.isCancelled {
            if shutdown.isSet {
                guard let drainSeconds else { return }
                if drainDeadline == nil { drainDeadline = Date().addingTimeInterval(drainSeconds) }
            }
            let head: OutboxRecord?
            do { head = try store.outboxHead() } catch {
                logger.error("cannot read the outbox", metadata: ["error": "\(error)"])
                await doorbell.wait(seconds: 5)
                continue
            }
            guard let head else {
                if drainDeadline != nil { return }
                await doorbell.wait(seconds: 60)
                continue
            }
            guard let relay else {
                if drainDeadline != nil { return }
                await doorbell.wait(seconds: 60)
                continue
            }
            if let notBefore = head.notBefore, notBefore > Date() {
                if let drainDeadline, notBefore > drainDeadline { return }
                board.update { $0.relay.nextAttempt = notBefore }
                await doorbell.wait(seconds: notBefore.timeIntervalSinceNow)
                continue
            }
            if let drainDeadline, Date() > drainDeadline { return }
            await attempt(head, relay: relay)
        }
    }

    /// One upload of the outbox's head and its bookkeeping.
    private func attempt(_ record: OutboxRecord, relay: any RelayUploading) async {
        let result = await relay.upload(sessionID: record.id, document: record.document)
        let now = Date()
        let decision: DeliveryDecision
        switch result {
        case .answered(let status, let retryAfter, let message):
            decision = .classify(status: status, retryAfter: retryAfter.flatMap { RetryPolicy.parseRetryAfter($0, now: now) }, message: message)
            board.update {
                $0.relay.reachable = true
                if status < 300 { $0.relay.lastSuccess = now }
            }
        case .unreachable(let reason):
            decision = .retry(reason: "unreachable: \(reason)", retryAfter: nil)
            board.update { $0.relay.reachable = false }
        }
        do {
            switch decision {
            case .delivered:
                consecutiveFailures = 0
                try store.markDelivered(id: record.id, at: now)
                board.update {
                    $0.relay.lastError = nil
                    $0.relay.nextAttempt = nil
                }
                logger.info("session delivered", metadata: ["session": "\(record.id)", "attempts": "\(record.attempts + 1)"])
            case .retry(let reason, let retryAfter):
                consecutiveFailures += 1
                let delay = policy.delay(afterFailures: consecutiveFailures, retryAfter: retryAfter) { Double.random(in: 0..<1) }
                try store.markFailed(id: record.id, error: reason, notBefore: now.addingTimeInterval(delay))
                board.update {
                    $0.relay.lastError = reason
                    $0.relay.nextAttempt = now.addingTimeInterval(delay)
                }
                logger.warning("session delivery failed, will retry", metadata: [
                    "session": "\(record.id)", "error": "\(reason)", "retry_in_s": "\(delay.formatted(.number.precision(.fractionLength(1))))",
                ])
            case .reject(let reason):
                consecutiveFailures = 0
                try store.markRejected(id: record.id, reason: reason)
                board.update { $0.relay.lastError = "rejected \(record.id): \(reason)" }
                logger.error("relay rejected a session; set aside", metadata: ["session": "\(record.id)", "reason": "\(reason)"])
            }
        } catch {
            logger.error("cannot update the outbox", metadata: ["session": "\(record.id)", "error": "\(error)"])
        }
        refreshStatistics()
    }

    /// Copies the outbox figures to the status board after an attempt (for the watchdog's
    /// STATUS line; `hhctl status` reads the store afresh).
    private func refreshStatistics() {
        guard let statistics = try? store.outboxStatistics() else { return }
        board.update { $0.outbox = KioskStatus.Outbox(statistics, now: Date()) }
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
