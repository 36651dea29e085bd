import Foundation
import GRDB

/// The kiosk's durable store (SQLite, WAL, `synchronous=FULL`): the measurements of open
/// sessions, closed sessions waiting in the outbox, and a short history of delivered ones.
///
/// Every method commits before it returns, so whatever a caller reports as done survives a
/// `kill -9` or a power cut. Closed sessions are delivered in the order they closed; a session
/// the relay acknowledges is deleted (only its listing is kept); when the store grows past its
/// quota the oldest waiting sessions are evicted, and counted.
public final class EdgeStore: Sendable {
    /// Tuning of a store.
    public struct Options: Sendable, Hashable {
        /// Disk quota in bytes; past it, the oldest undelivered sessions are evicted.
        public var quotaBytes: Int64 = 512 << 20
        /// How many delivered sessions `hhctl sessions` can still list.
        public var deliveredHistory: Int = 200
        /// A hard ceiling on the database file; growth past it fails as a full disk would.
        /// `nil` leaves it to the file system.
        public var hardLimitBytes: Int64?

        /// Default options.
        public init() {}
    }

    /// The path of the database file.
    public let path: String
    /// The options the store was opened with.
    public let options: Options
    private let pool: DatabasePool

    /// Opens (creating or migrating) the store at `path`.
    public init(path: String, options: Options = .init()) throws(StoreError) {
        self.path = path
        self.options = options
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "EdgeStore"
        let hardLimit = options.hardLimitBytes
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA journal_size_limit = 4194304")
            if let hardLimit {
                let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                try db.execute(sql: "PRAGMA max_page_count = \(max(1, hardLimit / pageSize))")
            }
        }
        do {
            pool = try Self.whileOpeningAlone(path) {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try Self.migrator.migrate(pool)
                return pool
            }
        } catch {
            throw .unavailable("\(path): \(StoreError.wrapping(error))")
        }
    }

    /// Runs `open` holding an exclusive `flock` on the database's directory, so that stores
    /// opened at once (hhd starting while a tool or a test opens its file) make a new file WAL
    /// and migrate it one after the other: SQLite refuses a second `journal_mode` change with
    /// "database is locked", and GRDB's migrator reads which migrations ran outside the
    /// transaction that runs one, so a second opener ran `CREATE TABLE` again. The directory
    /// is locked, not the file, because closing any descriptor of the file would drop
    /// SQLite's own locks on it.
    private static func whileOpeningAlone<Opened>(_ path: String, _ open: () throws -> Opened) throws -> Opened {
        let directory = (path as NSString).deletingLastPathComponent
        let descriptor = Glibc.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LockError(directory: directory, reason: errno) }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw LockError(directory: directory, reason: errno) }
        }
        return try open()
    }

    /// The database's directory could not be opened or locked.
    private struct LockError: Error, CustomStringConvertible {
        var directory: String
        var reason: Int32
        var description: String { "cannot lock \(directory): \(String(cString: strerror(reason)))" }
    }

    /// The schema, one migration per version. Never edit a migration that has shipped.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE session (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    started_at REAL NOT NULL,
                    ended_at REAL,
                    state TEXT NOT NULL CHECK (state IN ('open', 'pending', 'rejected')),
                    document BLOB,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    not_before REAL,
                    last_error TEXT
                );
                CREATE INDEX session_state ON session (state, seq);
                CREATE TABLE measurement (
                    session_id TEXT NOT NULL REFERENCES session (id) ON DELETE CASCADE,
                    t REAL NOT NULL,
                    bpm REAL, snr_db REAL, respiration_bpm REAL, rmssd_ms REAL, sdnn_ms REAL,
                    PRIMARY KEY (session_id, t)
                ) WITHOUT ROWID;
                CREATE TABLE turn (
                    session_id TEXT NOT NULL REFERENCES session (id) ON DELETE CASCADE,
                    id TEXT NOT NULL PRIMARY KEY,
                    start_s REAL NOT NULL,
                    end_s REAL NOT NULL
                );
                CREATE INDEX turn_session ON turn (session_id);
                CREATE TABLE delivered (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    started_at REAL NOT NULL,
                    ended_at REAL NOT NULL,
                    delivered_at REAL NOT NULL,
                    attempts INTEGER NOT NULL
                );
                CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                INSERT INTO counter (name, value) VALUES ('evicted', 0), ('delivered', 0);
                """)
        }
        migrator.registerMigration("v2") { db in
            // How far an open session is known to reach, so a killed run's session is recovered
            // to its last moment of presence, not only to its last estimate.
            try db.execute(sql: "ALTER TABLE session ADD COLUMN last_seen_s REAL")
        }
        migrator.registerMigration("v3") { db in
            // Voice turns: stored before they are sent, so a turn survives a failed request or a
            // `kill -9` and is delivered later; the audio is dropped once the relay has it.
            try db.execute(sql: """
                CREATE TABLE voice_turn (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    session_id TEXT NOT NULL,
                    started_at REAL NOT NULL,
                    created_at REAL NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('waiting', 'answered', 'failed')),
                    request BLOB NOT NULL,
                    audio BLOB,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    not_before REAL,
                    last_error TEXT,
                    transcript TEXT,
                    reply_text TEXT
                );
                CREATE INDEX voice_turn_state ON voice_turn (state, seq);
                CREATE INDEX voice_turn_session ON voice_turn (session_id);
                """)
        }
        return migrator
    }

    // MARK: Recording

    /// Opens a new session.
    public func openSession(id: String, startedAt: Date) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "INSERT INTO session (id, started_at, state) VALUES (?, ?, 'open')",
                arguments: [id, startedAt.timeIntervalSince1970])
        }
    }

    /// Records one second of an open session.
    public func record(_ measurement: VitalsSecond, session id: String) throws(StoreError) {
        try write { db in
            try Self.requireOpen(id, db)
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO measurement (session_id, t, bpm, snr_db, respiration_bpm, rmssd_ms, sdnn_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, measurement.t, measurement.bpm, measurement.snrDb, measurement.respirationBpm, measurement.rmssdMs, measurement.sdnnMs])
        }
        try enforceQuota()
    }

    /// Records that someone was present in an open session up to `seconds` from its start
    /// (never moves back).
    public func recordPresence(session id: String, through seconds: Double) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE session SET last_seen_s = MAX(COALESCE(last_seen_s, 0), ?) WHERE id = ? AND state = 'open'",
                arguments: [seconds, id])
        }
    }

    /// Records an utterance of an open session.
    public func record(_ turn: StoredTurn, session id: String) throws(StoreError) {
        try write { db in
            try Self.requireOpen(id, db)
            try db.execute(
                sql: "INSERT OR REPLACE INTO turn (session_id, id, start_s, end_s) VALUES (?, ?, ?, ?)",
                arguments: [id, turn.id, turn.start, turn.end])
        }
    }

    /// Sessions still open (after a crash: those to close on start).
    public func openSessions() throws(StoreError) -> [OpenSession] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, started_at, last_seen_s FROM session WHERE state = 'open' ORDER BY seq").map {
                OpenSession(id: $0["id"], startedAt: Date(timeIntervalSince1970: $0["started_at"]), lastSeenS: $0["last_seen_s"])
            }
        }
    }

    /// The seconds recorded for a session, in time order.
    public func measurements(session id: String) throws(StoreError) -> [VitalsSecond] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM measurement WHERE session_id = ? ORDER BY t", arguments: [id]).map {
                VitalsSecond(t: $0["t"], bpm: $0["bpm"], snrDb: $0["snr_db"], respirationBpm: $0["respiration_bpm"], rmssdMs: $0["rmssd_ms"], sdnnMs: $0["sdnn_ms"])
            }
        }
    }

    /// The utterances recorded for a session, in time order.
    public func turns(session id: String) throws(StoreError) -> [StoredTurn] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, start_s, end_s FROM turn WHERE session_id = ? ORDER BY start_s", arguments: [id]).map {
                StoredTurn(id: $0["id"], start: $0["start_s"], end: $0["end_s"])
            }
        }
    }

    /// Closes an open session and puts its document in the outbox, in one transaction. The
    /// per-second rows are dropped: the document holds them now.
    public func closeSession(id: String, endedAt: Date, document: Data) throws(StoreError) {
        try write { db in
            try Self.requireOpen(id, db)
            try db.execute(
                sql: "UPDATE session SET state = 'pending', ended_at = ?, document = ? WHERE id = ?",
                arguments: [endedAt.timeIntervalSince1970, document, id])
            try db.execute(sql: "DELETE FROM measurement WHERE session_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM turn WHERE session_id = ?", arguments: [id])
        }
        try enforceQuota()
    }

    // MARK: Outbox

    /// The head of the outbox: the first waiting session in delivery order, whatever its
    /// `notBefore`. Sessions are delivered strictly in order, so a later one never overtakes it.
    public func outboxHead() throws(StoreError) -> OutboxRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT seq, id, document, attempts, not_before FROM session WHERE state = 'pending' ORDER BY seq LIMIT 1").map {
                OutboxRecord(
                    sequence: $0["seq"], id: $0["id"], document: $0["document"], attempts: $0["attempts"],
                    notBefore: ($0["not_before"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    /// The ids of the waiting sessions, in delivery order.
    public func outboxOrder() throws(StoreError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT id FROM session WHERE state = 'pending' ORDER BY seq") }
    }

    /// Records that the relay acknowledged a session: the session is deleted, its listing kept.
    public func markDelivered(id: String, at time: Date) throws(StoreError) {
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT started_at, ended_at, attempts FROM session WHERE id = ? AND state = 'pending'", arguments: [id]) else {
                return
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO delivered (id, started_at, ended_at, delivered_at, attempts) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, row["started_at"] as Double, row["ended_at"] as Double, time.timeIntervalSince1970, (row["attempts"] as Int) + 1])
            try db.execute(sql: "DELETE FROM session WHERE id = ?", arguments: [id])
            try db.execute(sql: "UPDATE counter SET value = value + 1 WHERE name = 'delivered'")
            try db.execute(
                sql: "DELETE FROM delivered WHERE seq <= (SELECT MAX(seq) FROM delivered) - ?",
                arguments: [options.deliveredHistory])
            try pruneVoiceTurns(db)
        }
    }

    /// Records a failed attempt that will be retried no earlier than `notBefore`.
    public func markFailed(id: String, error: String, notBefore: Date) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE session SET attempts = attempts + 1, last_error = ?, not_before = ? WHERE id = ? AND state = 'pending'",
                arguments: [error, notBefore.timeIntervalSince1970, id])
        }
    }

    /// Sets a session aside for good: the relay refused it and retrying would not change that.
    public func markRejected(id: String, reason: String) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE session SET state = 'rejected', attempts = attempts + 1, last_error = ?, not_before = NULL WHERE id = ? AND state = 'pending'",
                arguments: [reason, id])
        }
    }

    /// Makes every waiting session due now (`hhctl flush`).
    public func makeAllDue() throws(StoreError) {
        try write { db in try db.execute(sql: "UPDATE session SET not_before = NULL WHERE state = 'pending'") }
    }

    /// The outbox in figures.
    public func outboxStatistics() throws(StoreError) -> OutboxStatistics {
        try read { db in
            let pending = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, MIN(ended_at) AS oldest FROM session WHERE state = 'pending'")
            let rejected = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM session WHERE state = 'rejected'") ?? 0
            let counters = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT name, value FROM counter").map {
                ($0["name"] as String, $0["value"] as Int)
            })
            return OutboxStatistics(
                depth: pending?["n"] ?? 0,
                oldestClosedAt: (pending?["oldest"] as Double?).map(Date.init(timeIntervalSince1970:)),
                rejected: rejected,
                evicted: counters["evicted"] ?? 0,
                delivered: counters["delivered"] ?? 0)
        }
    }

    /// The most recent sessions, newest first: open, waiting, rejected and delivered.
    public func recentSessions(limit: Int) throws(StoreError) -> [SessionListing] {
        try read { db in
            let live = try Row.fetchAll(db, sql: "SELECT id, started_at, ended_at, state, attempts, last_error FROM session ORDER BY seq DESC LIMIT ?", arguments: [limit]).map {
                SessionListing(
                    id: $0["id"], startedAt: Date(timeIntervalSince1970: $0["started_at"]),
                    endedAt: ($0["ended_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    state: DeliveryState(rawValue: $0["state"]) ?? .pending, attempts: $0["attempts"],
                    detail: $0["last_error"], deliveredAt: nil)
            }
            let delivered = try Row.fetchAll(db, sql: "SELECT id, started_at, ended_at, delivered_at, attempts FROM delivered ORDER BY seq DESC LIMIT ?", arguments: [limit]).map {
                SessionListing(
                    id: $0["id"], startedAt: Date(timeIntervalSince1970: $0["started_at"]),
                    endedAt: Date(timeIntervalSince1970: $0["ended_at"]), state: .delivered, attempts: $0["attempts"],
                    detail: nil, deliveredAt: Date(timeIntervalSince1970: $0["delivered_at"]))
            }
            return Array((live + delivered).sorted { $0.startedAt > $1.startedAt }.prefix(limit))
        }
    }

    // MARK: Retention

    /// Disk use of the store.
    public func usage() throws(StoreError) -> StorageUsage {
        let pages = try read { db in
            let count = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            let size = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
            return (count - free) * size
        }
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int64) ?? 0
        return StorageUsage(usedBytes: pages + wal, quotaBytes: options.quotaBytes)
    }

    /// Evicts the oldest waiting sessions and voice turns (oldest first, whichever they are)
    /// while the store is over its quota. Open sessions are never evicted: they are still being
    /// measured.
    func enforceQuota() throws(StoreError) {
        while try usage().usedBytes > options.quotaBytes {
            let evicted = try write { db -> Bool in
                let session = try Row.fetchOne(db, sql: "SELECT id, ended_at FROM session WHERE state IN ('pending', 'rejected') ORDER BY seq LIMIT 1")
                let turn = try Row.fetchOne(db, sql: "SELECT id, created_at FROM voice_turn WHERE state IN ('waiting', 'failed') AND audio IS NOT NULL ORDER BY seq LIMIT 1")
                if let turn, session == nil || (turn["created_at"] as Double) < (session?["ended_at"] as Double? ?? .infinity) {
                    try db.execute(sql: "DELETE FROM voice_turn WHERE id = ?", arguments: [turn["id"] as String])
                    try db.execute(sql: "INSERT INTO counter (name, value) VALUES ('evicted_turns', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1")
                    return true
                }
                guard let id = session?["id"] as String? else { return false }
                try db.execute(sql: "DELETE FROM session WHERE id = ?", arguments: [id])
                try db.execute(sql: "UPDATE counter SET value = value + 1 WHERE name = 'evicted'")
                return true
            }
            guard evicted else { return }
            // Shrink the write-ahead log so the freed pages count at once.
            do { _ = try pool.writeWithoutTransaction { try $0.checkpoint(.truncate) } } catch { throw StoreError.wrapping(error) }
        }
    }

    // MARK: Plumbing

    private static func requireOpen(_ id: String, _ db: Database) throws {
        guard try String.fetchOne(db, sql: "SELECT state FROM session WHERE id = ?", arguments: [id]) == "open" else {
            throw StoreError.unknownSession(id)
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try pool.write(body) } catch { throw StoreError.wrapping(error) }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try pool.read(body) } catch { throw StoreError.wrapping(error) }
    }
}
