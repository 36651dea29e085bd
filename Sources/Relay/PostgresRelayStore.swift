import Foundation
import HHProtocol
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle

/// The production store: Postgres through postgres-nio's connection pool (TLS as the URL's
/// `sslmode` asks, with libpq's meanings). Stateless instances share it; uniqueness of session ids is the database's.
public final class PostgresRelayStore: RelayStore {
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>?
    /// Connections the pool may open.
    public let poolSize: Int

    /// The connection pool, to run in the server's `ServiceGroup` (ahead of the HTTP server,
    /// so that it stops after it) when the store was made with `runsPool: false`.
    public var pool: any Service { client }

    /// A store on `url` with at most `poolSize` connections. With `runsPool` (one-shot
    /// commands, tests) the store runs its pool itself until ``close()``; without, the caller
    /// runs ``pool`` in its service group.
    public init(url: DatabaseURL, poolSize: Int, logger: Logger, runsPool: Bool) {
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        var verified = TLSConfiguration.makeClientConfiguration()
        if let roots = url.rootCertificatePath { verified.trustRoots = .file(roots) }
        let tls: PostgresClient.Configuration.TLS = switch url.tls {
        case .disable: .disable
        case .prefer: .prefer(unverified)
        case .require: .require(unverified)
        case .verifyFull: .require(verified)
        }
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: tls)
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.poolSize = poolSize
        runner = runsPool ? Task { await client.run() } : nil
    }

    /// Migrations by version. Never edit one that has shipped; add the next.
    static let migrations: [(version: Int, sql: [PostgresQuery])] = [
        (1, [
            """
            CREATE TABLE clinics (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())
            """,
            """
            CREATE TABLE devices (
                id TEXT PRIMARY KEY,
                clinic_id TEXT NOT NULL REFERENCES clinics (id),
                name TEXT NOT NULL,
                secret_hash TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                revoked_at TIMESTAMPTZ
            )
            """,
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                clinic_id TEXT NOT NULL REFERENCES clinics (id),
                device_id TEXT NOT NULL REFERENCES devices (id),
                started_at TIMESTAMPTZ NOT NULL,
                ended_at TIMESTAMPTZ NOT NULL,
                received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                digest TEXT NOT NULL,
                document JSONB NOT NULL,
                heart_rate_median_bpm DOUBLE PRECISION
            )
            """,
            "CREATE INDEX sessions_clinic_started ON sessions (clinic_id, started_at)",
        ]),
        (2, [
            """
            CREATE TABLE turns (
                id TEXT PRIMARY KEY,
                session_id TEXT NOT NULL,
                clinic_id TEXT NOT NULL REFERENCES clinics (id),
                device_id TEXT NOT NULL REFERENCES devices (id),
                audio_digest TEXT NOT NULL,
                claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                answered_at TIMESTAMPTZ,
                started_at TIMESTAMPTZ,
                transcript TEXT,
                reply_text TEXT,
                escalation_reason TEXT,
                -- The answer exactly as sent (not JSONB, which would respell it): a retry gets these bytes.
                response TEXT,
                audio_keys TEXT[] NOT NULL DEFAULT '{}',
                audio_expires_at TIMESTAMPTZ
            )
            """,
            "CREATE INDEX turns_session ON turns (session_id, started_at)",
            "CREATE INDEX turns_audio_expiry ON turns (audio_expires_at) WHERE audio_expires_at IS NOT NULL",
        ]),
        (3, [
            """
            CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                clinic_id TEXT NOT NULL REFERENCES clinics (id),
                email TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE web_sessions (
                token_hash TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                last_seen_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX web_sessions_account ON web_sessions (account_id)",
            """
            CREATE TABLE escalation_acks (
                session_id TEXT PRIMARY KEY REFERENCES sessions (id),
                clinic_id TEXT NOT NULL,
                account_id TEXT NOT NULL,
                acknowledged_at TIMESTAMPTZ NOT NULL
            )
            """,
            """
            CREATE TABLE audit_log (
                sequence BIGSERIAL PRIMARY KEY,
                at TIMESTAMPTZ NOT NULL,
                clinic_id TEXT NOT NULL,
                account_id TEXT NOT NULL,
                email TEXT NOT NULL,
                action TEXT NOT NULL,
                subject TEXT NOT NULL,
                address TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_log_clinic ON audit_log (clinic_id, sequence)",
            "CREATE INDEX sessions_clinic_started_id ON sessions (clinic_id, started_at, id)",
            "CREATE INDEX sessions_device_started ON sessions (device_id, started_at)",
            "CREATE INDEX sessions_device_received ON sessions (device_id, received_at)",
            "CREATE INDEX turns_escalated ON turns (clinic_id, session_id) WHERE escalation_reason IS NOT NULL",
            "CREATE INDEX turns_device_claimed ON turns (device_id, claimed_at)",
        ]),
        (4, [
            """
            CREATE TABLE summary_jobs (
                session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
                clinic_id TEXT NOT NULL,
                state TEXT NOT NULL,
                generation INTEGER NOT NULL DEFAULT 1,
                attempts INTEGER NOT NULL DEFAULT 0,
                queued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                available_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                lease_until TIMESTAMPTZ,
                worker TEXT,
                last_error TEXT
            )
            """,
            "CREATE INDEX summary_jobs_pending ON summary_jobs (available_at) WHERE state IN ('queued', 'running')",
            "CREATE INDEX summary_jobs_queued ON summary_jobs (queued_at)",
            "CREATE INDEX summary_jobs_failed ON summary_jobs (state) WHERE state = 'failed'",
            """
            CREATE TABLE summaries (
                session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                generation INTEGER NOT NULL,
                text TEXT NOT NULL,
                model TEXT NOT NULL,
                prompt_version TEXT NOT NULL,
                input_tokens INTEGER,
                output_tokens INTEGER,
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (session_id, generation)
            )
            """,
            // Sessions stored before the queue existed are summarised too.
            "INSERT INTO summary_jobs (session_id, clinic_id, state) SELECT id, clinic_id, 'queued' FROM sessions",
        ]),
    ]

    /// Applies the missing migrations under a session-level advisory lock, so instances that
    /// start together run them once, one after the other.
    public func migrate() async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: logger)
            do {
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                    logger: logger)
                var applied = Set<Int>()
                for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                    applied.insert(version)
                }
                for migration in Self.migrations where !applied.contains(migration.version) {
                    try await connection.withTransaction(logger: logger) { transaction in
                        for statement in migration.sql { try await transaction.query(statement, logger: logger) }
                        try await transaction.query("INSERT INTO schema_migrations (version) VALUES (\(migration.version))", logger: logger)
                    }
                    logger.info("migrated", metadata: ["version": "\(migration.version)"])
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
        }
    }

    /// The advisory lock key of migrations ("hhrelay" in ASCII).
    static let migrationLock: Int64 = 0x68_68_72_65_6c_61_79

    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    public func addClinic(name: String) async throws -> Clinic {
        let clinic = Clinic(id: RandomID.uuid(), name: name)
        try await client.query("INSERT INTO clinics (id, name) VALUES (\(clinic.id), \(name))", logger: logger)
        return clinic
    }

    public func addDevice(id: String, clinicID: String, name: String, secretHash: String) async throws -> Device {
        let rows = try await client.query(
            """
            INSERT INTO devices (id, clinic_id, name, secret_hash)
            SELECT \(id), id, \(name), \(secretHash) FROM clinics WHERE id = \(clinicID)
            RETURNING id
            """,
            logger: logger)
        var inserted = false
        for try await _ in rows.decode(String.self) { inserted = true }
        guard inserted else { throw RelayStoreError.unknownClinic(clinicID) }
        return Device(id: id, clinicID: clinicID, name: name, secretHash: secretHash)
    }

    public func revokeDevice(id: String) async throws -> Bool {
        let rows = try await client.query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, now()) WHERE id = \(id) RETURNING id", logger: logger)
        var found = false
        for try await _ in rows.decode(String.self) { found = true }
        return found
    }

    public func device(id: String) async throws -> Device? {
        let rows = try await client.query(
            "SELECT id, clinic_id, name, secret_hash, revoked_at FROM devices WHERE id = \(id)", logger: logger)
        for try await (id, clinic, name, hash, revoked) in rows.decode((String, String, String, String, Date?).self) {
            return Device(id: id, clinicID: clinic, name: name, secretHash: hash, revokedAt: revoked)
        }
        return nil
    }

    public func store(_ session: StoredSession) async throws -> StoreOutcome {
        let inserted: PostgresRowSequence
        do {
            // The session and its summary job in one statement (one transaction): a stored
            // session is never without its job.
            inserted = try await client.query(
                """
                WITH inserted AS (
                    INSERT INTO sessions (id, clinic_id, device_id, started_at, ended_at, digest, document, heart_rate_median_bpm)
                    VALUES (\(session.id), \(session.clinicID), \(session.deviceID), \(session.startedAt), \(session.endedAt),
                            \(session.digest), \(session.document)::jsonb, \(session.heartRateMedianBpm))
                    ON CONFLICT (id) DO NOTHING
                    RETURNING id, clinic_id
                )
                INSERT INTO summary_jobs (session_id, clinic_id, state) SELECT id, clinic_id, 'queued' FROM inserted
                RETURNING session_id
                """,
                logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState]?.hasPrefix("22") == true {
            // A data exception (class 22): this document can never be stored, however often it
            // is sent. Validation refuses what it knows of; this is the backstop, not a 503
            // the kiosk would retry for ever with every session behind it waiting.
            throw RelayStoreError.unstorable(error.serverInfo?[.message] ?? "Postgres refused the document's data")
        }
        // Read to the end before the next query: a result can hold its connection until the
        // server has sent all of it, and a query made meanwhile needs a second connection (on a
        // pool whose every connection is so held, it would wait for ever).
        var created = false
        for try await _ in inserted.decode(String.self) { created = true }
        if created {
            // A turn may have come first; it must be the same clinic's (else the row goes again).
            guard try await !hasTurnsOfOtherClinic(sessionID: session.id, clinicID: session.clinicID) else {
                try await client.query("DELETE FROM sessions WHERE id = \(session.id) AND digest = \(session.digest)", logger: logger)
                return .otherClinic
            }
            return .created
        }
        let existing = try await client.query("SELECT clinic_id, digest FROM sessions WHERE id = \(session.id)", logger: logger)
        for try await (clinic, digest) in existing.decode((String, String).self) {
            return .resolving(existingClinic: clinic, existingDigest: digest, for: session)
        }
        // Inserted by nobody and found by nobody: only possible if it was deleted in between.
        return try await store(session)
    }

    public func session(id: String) async throws -> StoredSession? {
        let rows = try await client.query(
            """
            SELECT id, clinic_id, device_id, started_at, ended_at, digest, document::text, heart_rate_median_bpm
            FROM sessions WHERE id = \(id)
            """,
            logger: logger)
        for try await (id, clinic, device, started, ended, digest, document, median) in rows.decode((String, String, String, Date, Date, String, String, Double?).self) {
            return StoredSession(id: id, clinicID: clinic, deviceID: device, startedAt: started, endedAt: ended, digest: digest, document: document, heartRateMedianBpm: median)
        }
        return nil
    }

    public func sessionCount() async throws -> Int {
        for try await count in try await client.query("SELECT COUNT(*)::BIGINT FROM sessions", logger: logger).decode(Int64.self) {
            return Int(count)
        }
        return 0
    }

    /// Stops the pool this store runs itself, waiting at most 5 s for its connections to close
    /// (a connection that does not answer cannot hold a command's exit).
    public func close() async {
        guard let runner else { return }
        runner.cancel()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = await runner.value }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: Turns

    private func hasTurnsOfOtherClinic(sessionID: String, clinicID: String) async throws -> Bool {
        let rows = try await client.query(
            "SELECT id FROM turns WHERE session_id = \(sessionID) AND clinic_id <> \(clinicID) LIMIT 1", logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func claimTurn(_ claim: TurnClaim, staleAfter: Duration) async throws -> TurnClaimOutcome {
        let sessions = try await client.query("SELECT clinic_id FROM sessions WHERE id = \(claim.sessionID)", logger: logger)
        for try await owner in sessions.decode(String.self) where owner != claim.clinicID { return .otherClinic }
        if try await hasTurnsOfOtherClinic(sessionID: claim.sessionID, clinicID: claim.clinicID) { return .otherClinic }
        let inserted = try await client.query(
            """
            INSERT INTO turns (id, session_id, clinic_id, device_id, audio_digest)
            VALUES (\(claim.id), \(claim.sessionID), \(claim.clinicID), \(claim.deviceID), \(claim.audioDigest))
            ON CONFLICT (id) DO NOTHING RETURNING id
            """,
            logger: logger)
        for try await _ in inserted.decode(String.self) { return .claimed }
        guard let (state, turn) = try await turnRow(id: claim.id) else {
            // Abandoned and deleted in between: claim it again.
            return try await claimTurn(claim, staleAfter: staleAfter)
        }
        switch state.outcome(for: claim, now: Date(), staleAfter: staleAfter) {
        case .takeOver:
            // Only one of several instances finding the same stale claim takes it over.
            let seconds = Double(staleAfter.components.seconds)
            let taken = try await client.query(
                """
                UPDATE turns SET claimed_at = now(), device_id = \(claim.deviceID)
                WHERE id = \(claim.id) AND answered_at IS NULL AND claimed_at < now() - make_interval(secs => \(seconds))
                RETURNING id
                """,
                logger: logger)
            for try await _ in taken.decode(String.self) { return .claimed }
            return .inProgress
        case .answered:
            return .answered(turn)
        case .decided(let outcome):
            return outcome
        }
    }

    private static let turnColumns = """
        id, session_id, clinic_id, device_id, audio_digest, claimed_at, answered_at, started_at, transcript, reply_text, escalation_reason,
        response, audio_keys, audio_expires_at
        """

    private typealias TurnRow = (String, String, String, String, String, Date, Date?, Date?, String?, String?, String?, String?, [String], Date?)

    private static func decode(_ row: TurnRow) -> (TurnRowState, StoredTurn) {
        let (id, session, clinic, device, digest, claimed, answered, started, transcript, reply, escalation, response, keys, expires) = row
        return (
            TurnRowState(clinicID: clinic, sessionID: session, audioDigest: digest, answered: answered != nil, claimedAt: claimed),
            StoredTurn(
                id: id, sessionID: session, clinicID: clinic, deviceID: device, startedAt: started ?? Date(timeIntervalSince1970: 0),
                audioDigest: digest, transcript: transcript ?? "", replyText: reply ?? "", escalationReason: escalation,
                response: response ?? "", audioKeys: keys, audioExpiresAt: expires)
        )
    }

    private func turnRow(id: String) async throws -> (TurnRowState, StoredTurn)? {
        let rows = try await client.query("SELECT \(unescaped: Self.turnColumns) FROM turns WHERE id = \(id)", logger: logger)
        for try await row in rows.decode(TurnRow.self) { return Self.decode(row) }
        return nil
    }

    public func completeTurn(_ turn: StoredTurn) async throws {
        // The answer, and a new generation of the session's summary job if the session is
        // already stored (a turn answered after it changes what the summary says): one statement.
        try await client.query(
            """
            WITH answered AS (
                UPDATE turns SET answered_at = now(), started_at = \(turn.startedAt), transcript = \(turn.transcript), reply_text = \(turn.replyText),
                    escalation_reason = \(turn.escalationReason), response = \(turn.response), audio_keys = \(turn.audioKeys),
                    audio_expires_at = \(turn.audioExpiresAt)
                WHERE id = \(turn.id)
                RETURNING session_id
            )
            UPDATE summary_jobs SET state = 'queued', generation = generation + 1, attempts = 0, queued_at = now(), available_at = now(),
                lease_until = NULL, last_error = NULL
            WHERE session_id IN (SELECT session_id FROM answered)
            """,
            logger: logger)
    }

    public func abandonTurn(id: String) async throws {
        try await client.query("DELETE FROM turns WHERE id = \(id) AND answered_at IS NULL", logger: logger)
    }

    public func turn(id: String) async throws -> StoredTurn? {
        guard let (state, turn) = try await turnRow(id: id), state.answered else { return nil }
        return turn
    }

    private func answeredTurns(_ query: PostgresQuery) async throws -> [StoredTurn] {
        var turns: [StoredTurn] = []
        for try await row in try await client.query(query, logger: logger).decode(TurnRow.self) { turns.append(Self.decode(row).1) }
        return turns
    }

    public func turns(sessionID: String) async throws -> [StoredTurn] {
        try await answeredTurns(
            "SELECT \(unescaped: Self.turnColumns) FROM turns WHERE session_id = \(sessionID) AND answered_at IS NOT NULL ORDER BY started_at, answered_at")
    }

    public func turnsWithExpiredAudio(before date: Date, limit: Int) async throws -> [StoredTurn] {
        try await answeredTurns(
            """
            SELECT \(unescaped: Self.turnColumns) FROM turns WHERE audio_expires_at IS NOT NULL AND audio_expires_at < \(date)
            ORDER BY audio_expires_at LIMIT \(limit)
            """)
    }

    public func forgetTurnAudio(id: String) async throws {
        try await client.query("UPDATE turns SET audio_keys = '{}', audio_expires_at = NULL WHERE id = \(id)", logger: logger)
    }

    public func retainTurnAudio(id: String, keys: [String], until: Date) async throws {
        try await client.query("UPDATE turns SET audio_keys = \(keys), audio_expires_at = \(until) WHERE id = \(id)", logger: logger)
    }
}
