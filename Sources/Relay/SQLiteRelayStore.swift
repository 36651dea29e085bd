import Foundation
import HHProtocol
import GRDB

/// The embedded store: SQLite in the data folder (GRDB, WAL). One machine, no configuration.
///
/// The file on disk is checked before every write and by ``ping()``: if the data folder was
/// removed or replaced while the relay runs, SQLite would go on writing into an unlinked file
/// that vanishes at the next start, after the kiosks had deleted their copies. The store then
/// answers ``RelayStoreError/unavailable(_:)`` (503, and `/health` fails) until restarted.
public final class SQLiteRelayStore: RelayStore {
    let pool: DatabasePool
    private let file: FileIdentity

    /// Opens (creating) the database `relay.sqlite` in `directory`.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let path = directory + "/relay.sqlite"
        pool = try DatabasePool(path: path, configuration: configuration)
        guard let file = FileIdentity(path: path) else { throw RelayStoreError.unavailable("\(path) is not there after opening it") }
        self.file = file
    }

    /// Throws unless the database file at the path is still the one this store has open.
    func requireFileInPlace() throws(RelayStoreError) {
        do { try file.requireInPlace() } catch { throw .misplaced(error.description) }
    }

    /// The schema, one migration per version (GRDB records them in `grdb_migrations`; SQLite's
    /// write lock makes concurrent runs safe). Never edit a migration that has shipped.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE clinics (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL);
                CREATE TABLE devices (
                    id TEXT PRIMARY KEY,
                    clinic_id TEXT NOT NULL REFERENCES clinics (id),
                    name TEXT NOT NULL,
                    secret_hash TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    revoked_at REAL
                );
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    clinic_id TEXT NOT NULL REFERENCES clinics (id),
                    device_id TEXT NOT NULL REFERENCES devices (id),
                    started_at REAL NOT NULL,
                    ended_at REAL NOT NULL,
                    received_at REAL NOT NULL,
                    digest TEXT NOT NULL,
                    document TEXT NOT NULL,
                    heart_rate_median_bpm REAL
                );
                CREATE INDEX sessions_clinic_started ON sessions (clinic_id, started_at);
                """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE TABLE turns (
                    id TEXT PRIMARY KEY,
                    session_id TEXT NOT NULL,
                    clinic_id TEXT NOT NULL REFERENCES clinics (id),
                    device_id TEXT NOT NULL REFERENCES devices (id),
                    audio_digest TEXT NOT NULL,
                    claimed_at REAL NOT NULL,
                    answered_at REAL,
                    started_at REAL,
                    transcript TEXT,
                    reply_text TEXT,
                    escalation_reason TEXT,
                    response TEXT,
                    audio_keys TEXT NOT NULL DEFAULT '',
                    audio_expires_at REAL
                );
                CREATE INDEX turns_session ON turns (session_id, started_at);
                CREATE INDEX turns_audio_expiry ON turns (audio_expires_at) WHERE audio_expires_at IS NOT NULL;
                """)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                CREATE TABLE accounts (
                    id TEXT PRIMARY KEY,
                    clinic_id TEXT NOT NULL REFERENCES clinics (id),
                    email TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE TABLE web_sessions (
                    token_hash TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    csrf_token TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    last_seen_at REAL NOT NULL
                );
                CREATE INDEX web_sessions_account ON web_sessions (account_id);
                CREATE TABLE escalation_acks (
                    session_id TEXT PRIMARY KEY REFERENCES sessions (id),
                    clinic_id TEXT NOT NULL,
                    account_id TEXT NOT NULL,
                    acknowledged_at REAL NOT NULL
                );
                CREATE TABLE audit_log (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    at REAL NOT NULL,
                    clinic_id TEXT NOT NULL,
                    account_id TEXT NOT NULL,
                    email TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    address TEXT NOT NULL
                );
                CREATE INDEX audit_log_clinic ON audit_log (clinic_id, sequence);
                CREATE INDEX sessions_clinic_started_id ON sessions (clinic_id, started_at, id);
                CREATE INDEX sessions_device_started ON sessions (device_id, started_at);
                CREATE INDEX sessions_device_received ON sessions (device_id, received_at);
                CREATE INDEX turns_escalated ON turns (clinic_id, session_id) WHERE escalation_reason IS NOT NULL;
                CREATE INDEX turns_device_claimed ON turns (device_id, claimed_at);
                """)
        }
        migrator.registerMigration("v4") { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: """
                CREATE TABLE summary_jobs (
                    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
                    clinic_id TEXT NOT NULL,
                    state TEXT NOT NULL,
                    generation INTEGER NOT NULL DEFAULT 1,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    queued_at REAL NOT NULL,
                    available_at REAL NOT NULL,
                    lease_until REAL,
                    worker TEXT,
                    last_error TEXT
                );
                CREATE INDEX summary_jobs_pending ON summary_jobs (available_at) WHERE state IN ('queued', 'running');
                CREATE INDEX summary_jobs_queued ON summary_jobs (queued_at);
                CREATE TABLE summaries (
                    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                    generation INTEGER NOT NULL,
                    text TEXT NOT NULL,
                    model TEXT NOT NULL,
                    prompt_version TEXT NOT NULL,
                    input_tokens INTEGER,
                    output_tokens INTEGER,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (session_id, generation)
                );
                """)
            // Sessions stored before the queue existed are summarised too.
            try db.execute(
                sql: "INSERT INTO summary_jobs (session_id, clinic_id, state, queued_at, available_at) SELECT id, clinic_id, 'queued', ?, ? FROM sessions",
                arguments: [now, now])
        }
        return migrator
    }

    public func migrate() async throws {
        try Self.migrator.migrate(pool)
    }

    public func ping() async throws {
        try requireFileInPlace()
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func addClinic(name: String) async throws -> Clinic {
        try requireFileInPlace()
        let clinic = Clinic(id: RandomID.uuid(), name: name)
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO clinics (id, name, created_at) VALUES (?, ?, ?)", arguments: [clinic.id, name, Date().timeIntervalSince1970])
        }
        return clinic
    }

    public func addDevice(id: String, clinicID: String, name: String, secretHash: String) async throws -> Device {
        try requireFileInPlace()
        try await pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM clinics WHERE id = ?", arguments: [clinicID]) == true else {
                throw RelayStoreError.unknownClinic(clinicID)
            }
            try db.execute(
                sql: "INSERT INTO devices (id, clinic_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, clinicID, name, secretHash, Date().timeIntervalSince1970])
        }
        return Device(id: id, clinicID: clinicID, name: name, secretHash: secretHash)
    }

    public func revokeDevice(id: String) async throws -> Bool {
        try requireFileInPlace()
        return try await pool.write { db in
            try db.execute(sql: "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", arguments: [Date().timeIntervalSince1970, id])
            return db.changesCount > 0
        }
    }

    public func device(id: String) async throws -> Device? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT id, clinic_id, name, secret_hash, revoked_at FROM devices WHERE id = ?"), arguments: [id]).map {
                Device(id: $0["id"], clinicID: $0["clinic_id"], name: $0["name"], secretHash: $0["secret_hash"],
                       revokedAt: ($0["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    public func store(_ session: StoredSession) async throws -> StoreOutcome {
        try requireFileInPlace()
        let outcome: StoreOutcome
        do { outcome = try await storeRow(session) } catch is SessionOfOtherClinic { return .otherClinic }
        // Checked again after the commit: a folder removed meanwhile must not yield a 201 for
        // a row in a file that is already unlinked (the kiosk retries the 503).
        try requireFileInPlace()
        return outcome
    }

    private func storeRow(_ session: StoredSession) async throws -> StoreOutcome {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO sessions (id, clinic_id, device_id, started_at, ended_at, received_at, digest, document, heart_rate_median_bpm)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
                    """,
                arguments: [session.id, session.clinicID, session.deviceID, session.startedAt.timeIntervalSince1970,
                            session.endedAt.timeIntervalSince1970, Date().timeIntervalSince1970, session.digest, session.document,
                            session.heartRateMedianBpm])
            if db.changesCount > 0 {
                // A turn may have come first; it must be the same clinic's.
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM turns WHERE session_id = ? AND clinic_id <> ? LIMIT 1", arguments: [session.id, session.clinicID]) == true {
                    throw SessionOfOtherClinic()
                }
                // Its summary job, in the same transaction: a stored session is never without one.
                let now = Date().timeIntervalSince1970
                try db.execute(
                    sql: "INSERT INTO summary_jobs (session_id, clinic_id, state, queued_at, available_at) VALUES (?, ?, 'queued', ?, ?)",
                    arguments: [session.id, session.clinicID, now, now])
                return .created
            }
            let existing = try Row.fetchOne(db, sql: "SELECT clinic_id, digest FROM sessions WHERE id = ?", arguments: [session.id])
            return StoreOutcome.resolving(existingClinic: existing?["clinic_id"], existingDigest: existing?["digest"], for: session)
        }
    }

    public func session(id: String) async throws -> StoredSession? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]).map {
                StoredSession(
                    id: $0["id"], clinicID: $0["clinic_id"], deviceID: $0["device_id"],
                    startedAt: Date(timeIntervalSince1970: $0["started_at"]), endedAt: Date(timeIntervalSince1970: $0["ended_at"]),
                    digest: $0["digest"], document: $0["document"], heartRateMedianBpm: $0["heart_rate_median_bpm"])
            }
        }
    }

    public func sessionCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sessions") ?? 0 }
    }

    public func close() async {}

    // MARK: Turns

    public func claimTurn(_ claim: TurnClaim, staleAfter: Duration) async throws -> TurnClaimOutcome {
        try requireFileInPlace()
        let now = Date().timeIntervalSince1970
        let outcome: TurnClaimOutcome = try await pool.write { db in
            if let owner = try String.fetchOne(db.cachedStatement(sql: "SELECT clinic_id FROM sessions WHERE id = ?"), arguments: [claim.sessionID]), owner != claim.clinicID {
                return .otherClinic
            }
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM turns WHERE session_id = ? AND clinic_id <> ? LIMIT 1"), arguments: [claim.sessionID, claim.clinicID]) == true {
                return .otherClinic
            }
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM turns WHERE id = ?"), arguments: [claim.id]) else {
                try db.cachedStatement(sql: "INSERT INTO turns (id, session_id, clinic_id, device_id, audio_digest, claimed_at) VALUES (?, ?, ?, ?, ?, ?)").execute(
                    arguments: [claim.id, claim.sessionID, claim.clinicID, claim.deviceID, claim.audioDigest, now])
                return .claimed
            }
            let state = TurnRowState(
                clinicID: row["clinic_id"], sessionID: row["session_id"], audioDigest: row["audio_digest"],
                answered: (row["answered_at"] as Double?) != nil, claimedAt: Date(timeIntervalSince1970: row["claimed_at"]))
            switch state.outcome(for: claim, now: Date(timeIntervalSince1970: now), staleAfter: staleAfter) {
            case .takeOver:
                try db.cachedStatement(sql: "UPDATE turns SET claimed_at = ?, device_id = ? WHERE id = ?").execute(arguments: [now, claim.deviceID, claim.id])
                return .claimed
            case .answered:
                return .answered(Self.turn(from: row))
            case .decided(let outcome):
                return outcome
            }
        }
        try requireFileInPlace()
        return outcome
    }

    public func completeTurn(_ turn: StoredTurn) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            try db.cachedStatement(
                sql: """
                    UPDATE turns SET answered_at = ?, started_at = ?, transcript = ?, reply_text = ?, escalation_reason = ?, response = ?,
                        audio_keys = ?, audio_expires_at = ?
                    WHERE id = ?
                    """
            ).execute(
                arguments: [Date().timeIntervalSince1970, turn.startedAt.timeIntervalSince1970, turn.transcript, turn.replyText,
                            turn.escalationReason, turn.response, turn.audioKeys.joined(separator: "\n"),
                            turn.audioExpiresAt?.timeIntervalSince1970, turn.id])
            // A turn answered after its session was stored changes what the summary says.
            try Self.requeueSummary(db, sessionID: turn.sessionID)
        }
        try requireFileInPlace()
    }

    public func abandonTurn(id: String) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM turns WHERE id = ? AND answered_at IS NULL", arguments: [id]) }
    }

    public func turn(id: String) async throws -> StoredTurn? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM turns WHERE id = ? AND answered_at IS NOT NULL"), arguments: [id]).map(Self.turn(from:))
        }
    }

    public func turns(sessionID: String) async throws -> [StoredTurn] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM turns WHERE session_id = ? AND answered_at IS NOT NULL ORDER BY started_at, answered_at"), arguments: [sessionID])
                .map(Self.turn(from:))
        }
    }

    public func turnsWithExpiredAudio(before date: Date, limit: Int) async throws -> [StoredTurn] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM turns WHERE audio_expires_at IS NOT NULL AND audio_expires_at < ? ORDER BY audio_expires_at LIMIT ?",
                arguments: [date.timeIntervalSince1970, limit]
            ).map(Self.turn(from:))
        }
    }

    public func forgetTurnAudio(id: String) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            try db.execute(sql: "UPDATE turns SET audio_keys = '', audio_expires_at = NULL WHERE id = ?", arguments: [id])
        }
    }

    public func retainTurnAudio(id: String, keys: [String], until: Date) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE turns SET audio_keys = ?, audio_expires_at = ? WHERE id = ?",
                arguments: [keys.joined(separator: "\n"), until.timeIntervalSince1970, id])
        }
    }

    private static func turn(from row: Row) -> StoredTurn {
        let keys: String = row["audio_keys"]
        return StoredTurn(
            id: row["id"], sessionID: row["session_id"], clinicID: row["clinic_id"], deviceID: row["device_id"],
            startedAt: Date(timeIntervalSince1970: row["started_at"] ?? 0), audioDigest: row["audio_digest"],
            transcript: row["transcript"] ?? "", replyText: row["reply_text"] ?? "", escalationReason: row["escalation_reason"],
            response: row["response"] ?? "", audioKeys: keys.split(separator: "\n").map(String.init),
            audioExpiresAt: (row["audio_expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }
}

/// A session whose id another clinic's turns already use (rolls the insert back).
private struct SessionOfOtherClinic: Error {}

/// What a stored turn row says to a new claim on its id: the one rule both back ends follow.
struct TurnRowState {
    var clinicID: String
    var sessionID: String
    var audioDigest: String
    var answered: Bool
    var claimedAt: Date

    enum Decision: Equatable {
        /// The claim was abandoned (its instance died): the caller takes it over.
        case takeOver
        /// Answered before: the caller returns the stored answer.
        case answered
        case decided(TurnClaimOutcome)
    }

    func outcome(for claim: TurnClaim, now: Date, staleAfter: Duration) -> Decision {
        guard clinicID == claim.clinicID else { return .decided(.otherClinic) }
        guard sessionID == claim.sessionID, audioDigest == claim.audioDigest else { return .decided(.conflict) }
        if answered { return .answered }
        let stale = Double(staleAfter.components.seconds) + Double(staleAfter.components.attoseconds) / 1e18
        return now.timeIntervalSince(claimedAt) > stale ? .takeOver : .decided(.inProgress)
    }
}

extension StoreOutcome {
    /// The outcome for a session whose id was already taken by a row of `existingClinic` with
    /// `existingDigest`.
    static func resolving(existingClinic: String?, existingDigest: String?, for session: StoredSession) -> StoreOutcome {
        guard let existingClinic, existingClinic == session.clinicID else { return .otherClinic }
        return existingDigest == session.digest ? .replayed : .conflict
    }
}

/// Which file a path named when it was opened (device and inode), to notice it being removed,
/// renamed away or replaced under a running process.
struct FileIdentity: Sendable, Hashable {
    let path: String
    let device: UInt64
    let inode: UInt64

    /// The file at `path` now; `nil` if there is none.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.path = path
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// Throws, saying what happened, if the path no longer names this file.
    func requireInPlace() throws(MisplacedFile) {
        guard let now = FileIdentity(path: path) else {
            throw MisplacedFile(description: "\(path) was removed while the relay was running (the data folder is gone?); restart the relay")
        }
        guard now.device == device, now.inode == inode else {
            throw MisplacedFile(description: "\(path) was replaced by another file while the relay was running; restart the relay")
        }
    }
}

/// A file or folder the relay opened is no longer at its path.
struct MisplacedFile: Error, CustomStringConvertible {
    var description: String
}
