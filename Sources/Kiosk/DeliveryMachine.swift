import EdgeStore
import Foundation

/// The outbox's decisions, with no I/O and no clock of its own: ``OutboxService`` tells it what
/// it found (the outbox's head, the relay's answer, the time) and does what it says.
///
/// With nothing to deliver it asks the relay whether it is there, at once and then every
/// ``probeInterval``, so that a wrong relay URL shows in `hhctl status` before the first session.
///
/// Sessions go strictly in order. A failed attempt waits with exponential backoff and jitter,
/// or the relay's `Retry-After`; a session the relay refuses for good is set aside. On shutdown
/// nothing new starts, unless a drain time is set (fast file input): then delivery goes on until
/// the outbox is empty or the drain time has passed.
///
/// Two clocks, each for what it is good at: wall time (`Date`) for the retry times kept in the
/// store across restarts, the monotonic clock for how long to wait and for the drain deadline.
public struct DeliveryMachine: Sendable {
    /// What to do next.
    public enum Action: Sendable, Hashable {
        /// Send this session to the relay, then ``settle(_:result:wallNow:random:)`` the answer.
        case upload(OutboxRecord)
        /// Wait for the doorbell or this long; `nextAttempt` is the due time of a waiting head.
        case wait(Duration, nextAttempt: Date?)
        /// Ask the relay whether it is there (its health endpoint) and report the answer.
        case probe
        /// Nothing more to do: the service returns.
        case stop
    }

    /// What to write to the store after an attempt.
    public enum Settlement: Sendable, Hashable {
        /// The relay has the session.
        case delivered(id: String, at: Date)
        /// Try again no earlier than `notBefore` (`delay` seconds from the attempt).
        case failed(id: String, reason: String, notBefore: Date, delay: Double)
        /// The relay refuses it for good.
        case rejected(id: String, reason: String)
    }

    /// How long to sleep with nothing to deliver (the doorbell rings for new work).
    public static let idleWait = Duration.seconds(60)
    /// How often an idle kiosk asks the relay whether it is there.
    public static let probeInterval = Duration.seconds(300)
    /// How long to wait before reading an unreadable outbox again.
    public static let storeRetryWait = Duration.seconds(5)

    /// When to retry.
    public let policy: RetryPolicy
    /// With fast file input, how long delivery may go on after shutdown is asked for.
    public let drainTime: Duration?
    /// Failed attempts in a row, for the backoff.
    public private(set) var consecutiveFailures = 0
    private var drainDeadline: ContinuousClock.Instant?
    private var lastProbe: ContinuousClock.Instant?

    /// A machine retrying by `policy`, draining for `drainTime` on shutdown (`nil`: stop at once).
    public init(policy: RetryPolicy, drainTime: Duration?) {
        self.policy = policy
        self.drainTime = drainTime
    }

    /// The next step, given the outbox's head (`nil`: empty; `.failure`: unreadable), whether a
    /// relay is configured, whether shutdown has been asked for, and the time on both clocks.
    public mutating func next(
        head: Result<OutboxRecord?, any Error>, relayConfigured: Bool, shuttingDown: Bool, wallNow: Date, now: ContinuousClock.Instant
    ) -> Action {
        if shuttingDown {
            guard let drainTime else { return .stop }
            if drainDeadline == nil { drainDeadline = now + drainTime }
        }
        let draining = drainDeadline != nil
        guard case .success(let record) = head else {
            // An unreadable store is tried again, within the drain time when draining.
            if let drainDeadline, now + Self.storeRetryWait > drainDeadline { return .stop }
            return .wait(Self.storeRetryWait, nextAttempt: nil)
        }
        guard let record, relayConfigured else {
            if draining { return .stop }
            if relayConfigured, lastProbe.map({ now - $0 >= Self.probeInterval }) ?? true {
                lastProbe = now
                return .probe
            }
            return .wait(Self.idleWait, nextAttempt: nil)
        }
        if let notBefore = record.notBefore, notBefore > wallNow {
            let wait = Duration.seconds(notBefore.timeIntervalSince(wallNow))
            if let drainDeadline, now + wait > drainDeadline { return .stop }
            return .wait(wait, nextAttempt: notBefore)
        }
        if let drainDeadline, now > drainDeadline { return .stop }
        return .upload(record)
    }

    /// What an attempt on `record` that got `result` at `wallNow` means for the store;
    /// `random` (in `0..<1`) spreads retries.
    public mutating func settle(_ record: OutboxRecord, result: UploadResult, wallNow: Date, random: Double) -> Settlement {
        let decision: DeliveryDecision
        switch result {
        case .answered(let status, let retryAfter, let message):
            decision = .classify(status: status, retryAfter: retryAfter.flatMap { RetryPolicy.parseRetryAfter($0, now: wallNow) }, message: message)
        case .unreachable(let reason):
            decision = .retry(reason: "unreachable: \(reason)", retryAfter: nil)
        }
        switch decision {
        case .delivered:
            consecutiveFailures = 0
            return .delivered(id: record.id, at: wallNow)
        case .retry(let reason, let retryAfter):
            consecutiveFailures += 1
            let delay = policy.delay(afterFailures: consecutiveFailures, retryAfter: retryAfter) { random }
            return .failed(id: record.id, reason: reason, notBefore: wallNow.addingTimeInterval(delay), delay: delay)
        case .reject(let reason):
            consecutiveFailures = 0
            return .rejected(id: record.id, reason: reason)
        }
    }
}
