import Foundation
import Metrics
import Synchronization

/// Wraps a store with a deadline on every operation (a database that does not answer becomes
/// a quick 503, not a hung request) and with metrics: operations in flight (the pool in use),
/// the pool size, and the duration of each operation by name.
final class InstrumentedStore: RelayStore {
    private let base: any RelayStore
    private let inFlight = Gauge(label: "hh_relay_db_operations_in_flight")
    private let poolSize: Gauge
    private let counter = InFlightCounter()
    private let timeout: Duration
    /// One latency histogram per operation, made once (not per request).
    private let timers: [String: Timer]

    init(_ base: any RelayStore, poolSize: Int, timeout: Duration) {
        self.base = base
        self.timeout = timeout
        timers = Dictionary(uniqueKeysWithValues: ["ping", "add_clinic", "add_device", "revoke_device", "device", "store_session", "session", "session_count"].map {
            ($0, Timer(label: "hh_relay_db_operation_duration", dimensions: [("operation", $0)]))
        })
        self.poolSize = Gauge(label: "hh_relay_db_pool_size")
        self.poolSize.record(poolSize)
    }

    private func measure<T: Sendable>(_ operation: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        inFlight.record(counter.add(1))
        let start = ContinuousClock.now
        defer {
            inFlight.record(counter.add(-1))
            timers[operation]?.record(duration: ContinuousClock.now - start)
        }
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw RelayStoreError.unavailable("no answer within \(timeout)")
            }
            return result
        }
    }

    func migrate() async throws { try await base.migrate() }
    func ping() async throws { try await measure("ping") { [base] in try await base.ping() } }
    func addClinic(name: String) async throws -> Clinic { try await measure("add_clinic") { [base] in try await base.addClinic(name: name) } }
    func addDevice(id: String, clinicID: String, name: String, secretHash: String) async throws -> Device {
        try await measure("add_device") { [base] in try await base.addDevice(id: id, clinicID: clinicID, name: name, secretHash: secretHash) }
    }
    func revokeDevice(id: String) async throws -> Bool { try await measure("revoke_device") { [base] in try await base.revokeDevice(id: id) } }
    func device(id: String) async throws -> Device? { try await measure("device") { [base] in try await base.device(id: id) } }
    func store(_ session: StoredSession) async throws -> StoreOutcome { try await measure("store_session") { [base] in try await base.store(session) } }
    func session(id: String) async throws -> StoredSession? { try await measure("session") { [base] in try await base.session(id: id) } }
    func sessionCount() async throws -> Int { try await measure("session_count") { [base] in try await base.sessionCount() } }
    func close() async { await base.close() }
}

/// A counter shared across tasks.
private final class InFlightCounter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ delta: Int) -> Int { value.add(delta, ordering: .relaxed).newValue }
}
