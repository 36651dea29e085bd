import Foundation
import Metrics
import NIOCore
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
        timers = Dictionary(uniqueKeysWithValues: [
            "ping", "add_clinic", "add_device", "revoke_device", "device", "store_session", "session", "session_count", "claim_turn",
            "complete_turn", "abandon_turn", "turn", "turns", "expired_turn_audio", "forget_turn_audio", "retain_turn_audio",
            "add_account", "account", "remove_account", "set_password", "create_web_session", "web_session", "touch_web_session",
            "delete_web_session", "expire_web_sessions", "visits", "escalations", "visit", "acknowledge", "kiosks", "append_audit", "audit",
            "claim_summary_jobs", "complete_summary_job", "release_summary_job", "summary", "summary_job", "summary_jobs", "summary_queue_status",
        ].map {
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
    func claimTurn(_ claim: TurnClaim, staleAfter: Duration) async throws -> TurnClaimOutcome {
        try await measure("claim_turn") { [base] in try await base.claimTurn(claim, staleAfter: staleAfter) }
    }
    func completeTurn(_ turn: StoredTurn) async throws { try await measure("complete_turn") { [base] in try await base.completeTurn(turn) } }
    func abandonTurn(id: String) async throws { try await measure("abandon_turn") { [base] in try await base.abandonTurn(id: id) } }
    func turn(id: String) async throws -> StoredTurn? { try await measure("turn") { [base] in try await base.turn(id: id) } }
    func turns(sessionID: String) async throws -> [StoredTurn] { try await measure("turns") { [base] in try await base.turns(sessionID: sessionID) } }
    func turnsWithExpiredAudio(before date: Date, limit: Int) async throws -> [StoredTurn] {
        try await measure("expired_turn_audio") { [base] in try await base.turnsWithExpiredAudio(before: date, limit: limit) }
    }
    func forgetTurnAudio(id: String) async throws { try await measure("forget_turn_audio") { [base] in try await base.forgetTurnAudio(id: id) } }
    func retainTurnAudio(id: String, keys: [String], until: Date) async throws {
        try await measure("retain_turn_audio") { [base] in try await base.retainTurnAudio(id: id, keys: keys, until: until) }
    }

    func addAccount(_ account: ClinicianAccount) async throws { try await measure("add_account") { [base] in try await base.addAccount(account) } }
    func account(email: String) async throws -> ClinicianAccount? { try await measure("account") { [base] in try await base.account(email: email) } }
    func removeAccount(email: String) async throws -> Bool { try await measure("remove_account") { [base] in try await base.removeAccount(email: email) } }
    func setPasswordHash(email: String, hash: String) async throws -> Bool {
        try await measure("set_password") { [base] in try await base.setPasswordHash(email: email, hash: hash) }
    }
    func createWebSession(_ session: WebSession) async throws {
        try await measure("create_web_session") { [base] in try await base.createWebSession(session) }
    }
    func webSession(tokenHash: String) async throws -> (WebSession, ClinicianAccount)? {
        try await measure("web_session") { [base] in try await base.webSession(tokenHash: tokenHash) }
    }
    func touchWebSession(tokenHash: String, at date: Date) async throws {
        try await measure("touch_web_session") { [base] in try await base.touchWebSession(tokenHash: tokenHash, at: date) }
    }
    func deleteWebSession(tokenHash: String) async throws {
        try await measure("delete_web_session") { [base] in try await base.deleteWebSession(tokenHash: tokenHash) }
    }
    func deleteExpiredWebSessions(lastSeenBefore idleCutoff: Date, createdBefore absoluteCutoff: Date) async throws {
        try await measure("expire_web_sessions") { [base] in
            try await base.deleteExpiredWebSessions(lastSeenBefore: idleCutoff, createdBefore: absoluteCutoff)
        }
    }
    func visits(_ query: VisitQuery) async throws -> [VisitListing] { try await measure("visits") { [base] in try await base.visits(query) } }
    func unacknowledgedEscalations(clinicID: String, limit: Int) async throws -> [VisitListing] {
        try await measure("escalations") { [base] in try await base.unacknowledgedEscalations(clinicID: clinicID, limit: limit) }
    }
    func visit(id: String, clinicID: String) async throws -> VisitListing? {
        try await measure("visit") { [base] in try await base.visit(id: id, clinicID: clinicID) }
    }
    func acknowledgeEscalation(sessionID: String, clinicID: String, userID: String, at date: Date) async throws -> Bool {
        try await measure("acknowledge") { [base] in
            try await base.acknowledgeEscalation(sessionID: sessionID, clinicID: clinicID, userID: userID, at: date)
        }
    }
    func kiosks(clinicID: String, sessionsSince since: Date) async throws -> [KioskListing] {
        try await measure("kiosks") { [base] in try await base.kiosks(clinicID: clinicID, sessionsSince: since) }
    }
    func appendAudit(_ entry: AuditEntry) async throws { try await measure("append_audit") { [base] in try await base.appendAudit(entry) } }
    func audit(clinicID: String, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await measure("audit") { [base] in try await base.audit(clinicID: clinicID, before: before, limit: limit) }
    }

    func claimSummaryJobs(worker: String, limit: Int, lease: Duration) async throws -> [ClaimedSummaryJob] {
        try await measure("claim_summary_jobs") { [base] in try await base.claimSummaryJobs(worker: worker, limit: limit, lease: lease) }
    }
    func completeSummaryJob(_ summary: StoredSummary, worker: String) async throws -> Bool {
        try await measure("complete_summary_job") { [base] in try await base.completeSummaryJob(summary, worker: worker) }
    }
    func releaseSummaryJob(sessionID: String, generation: Int, worker: String, retryAt: Date?, error: String) async throws {
        try await measure("release_summary_job") { [base] in
            try await base.releaseSummaryJob(sessionID: sessionID, generation: generation, worker: worker, retryAt: retryAt, error: error)
        }
    }
    func summary(sessionID: String) async throws -> StoredSummary? { try await measure("summary") { [base] in try await base.summary(sessionID: sessionID) } }
    func summaryJob(sessionID: String) async throws -> SummaryJob? {
        try await measure("summary_job") { [base] in try await base.summaryJob(sessionID: sessionID) }
    }
    func summaryJobs(limit: Int) async throws -> [SummaryJob] { try await measure("summary_jobs") { [base] in try await base.summaryJobs(limit: limit) } }
    func summaryQueueStatus() async throws -> SummaryQueueStatus {
        try await measure("summary_queue_status") { [base] in try await base.summaryQueueStatus() }
    }
}

/// A counter shared across tasks.
private final class InFlightCounter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ delta: Int) -> Int { value.add(delta, ordering: .relaxed).newValue }
}

/// Wraps an object store with a latency histogram per operation
/// (`hh_relay_object_operation_duration`) and a count of failures by kind
/// (`hh_relay_object_failures_total`): S3's own latency and refusals, visible in `/metrics`.
struct InstrumentedObjectStore: ObjectStore {
    private let base: any ObjectStore
    private let timers: [String: Timer]
    private let unavailable = Counter(label: "hh_relay_object_failures_total", dimensions: [("kind", "unavailable")])
    private let refused = Counter(label: "hh_relay_object_failures_total", dimensions: [("kind", "refused")])

    init(_ base: any ObjectStore) {
        self.base = base
        timers = Dictionary(uniqueKeysWithValues: ["put", "get", "delete", "list", "head"].map {
            ($0, Timer(label: "hh_relay_object_operation_duration", dimensions: [("operation", $0)]))
        })
    }

    private func measure<T>(_ operation: String, _ body: () async throws(ObjectStoreError) -> T) async throws(ObjectStoreError) -> T {
        let start = ContinuousClock.now
        defer { timers[operation]?.record(duration: ContinuousClock.now - start) }
        do {
            return try await body()
        } catch {
            switch error {
            case .unavailable, .misplaced: unavailable.increment()
            case .refused: refused.increment()
            case .badKey: break
            }
            throw error
        }
    }

    func put(_ bytes: ByteBuffer, at key: ObjectKey, contentType: String) async throws(ObjectStoreError) {
        try await measure("put") { () async throws(ObjectStoreError) in try await base.put(bytes, at: key, contentType: contentType) }
    }

    func get(_ key: ObjectKey) async throws(ObjectStoreError) -> ByteBuffer? {
        try await measure("get") { () async throws(ObjectStoreError) in try await base.get(key) }
    }

    func modified(_ key: ObjectKey) async throws(ObjectStoreError) -> Date? {
        try await measure("head") { () async throws(ObjectStoreError) in try await base.modified(key) }
    }

    func list(prefix: String) async throws(ObjectStoreError) -> [StoredObject] {
        try await measure("list") { () async throws(ObjectStoreError) in try await base.list(prefix: prefix) }
    }

    func removeAbandonedWrites(olderThan cutoff: Date) async throws(ObjectStoreError) -> Int {
        try await base.removeAbandonedWrites(olderThan: cutoff)
    }

    func checkInPlace() throws(ObjectStoreError) { try base.checkInPlace() }
    func shutdown() async { await base.shutdown() }
    func delete(_ key: ObjectKey) async throws(ObjectStoreError) {
        try await measure("delete") { () async throws(ObjectStoreError) in try await base.delete(key) }
    }
}
