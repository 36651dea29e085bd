import EdgeStore
import Foundation
import KioskControl
import Synchronization

/// The live state the daemon's parts write and the control socket reads. Thread-safe: the
/// capture threads, the recorder and the outbox all update it.
public final class StatusBoard: Sendable {
    private let state: Mutex<KioskStatus>

    /// A board starting from `initial`.
    public init(_ initial: KioskStatus) {
        state = Mutex(initial)
    }

    /// Changes the state.
    public func update(_ change: (inout KioskStatus) -> Void) {
        state.withLock { change(&$0) }
    }

    /// A copy of the state.
    public var snapshot: KioskStatus { read { $0 } }

    /// What `read` makes of the state, without copying all of it.
    public func read<Value>(_ read: (KioskStatus) -> Value) -> Value {
        state.withLock { read($0) }
    }
}

extension KioskStatus.Outbox {
    /// The outbox's figures as the store counts them at `now`.
    init(_ statistics: OutboxStatistics, now: Date) {
        self.init(
            depth: statistics.depth, oldestAgeS: statistics.oldestClosedAt.map { max(0, now.timeIntervalSince($0)) },
            rejected: statistics.rejected, evicted: statistics.evicted, delivered: statistics.delivered)
    }
}
