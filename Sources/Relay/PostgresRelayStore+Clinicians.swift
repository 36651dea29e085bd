import Foundation
import PostgresNIO

extension PostgresRelayStore: ClinicianStore {
    public func addAccount(_ account: ClinicianAccount) async throws {
        do {
            let rows = try await client.query(
                """
                INSERT INTO accounts (id, clinic_id, email, role, password_hash)
                SELECT \(account.id), id, \(account.email), \(account.role.rawValue), \(account.passwordHash) FROM clinics WHERE id = \(account.clinicID)
                RETURNING id
                """,
                logger: logger)
            var inserted = false
            for try await _ in rows.decode(String.self) { inserted = true }
            guard inserted else { throw RelayStoreError.unknownClinic(account.clinicID) }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw AccountError.emailTaken(account.email)
        }
    }

    private typealias AccountRow = (String, String, String, String, String)

    private static func account(_ row: AccountRow) -> ClinicianAccount? {
        let (id, clinic, email, role, hash) = row
        guard let role = ClinicianRole(rawValue: role) else { return nil }
        return ClinicianAccount(id: id, clinicID: clinic, email: email, role: role, passwordHash: hash)
    }

    public func account(email: String) async throws -> ClinicianAccount? {
        let rows = try await client.query(
            "SELECT id, clinic_id, email, role, password_hash FROM accounts WHERE email = \(email.lowercased())", logger: logger)
        for try await row in rows.decode(AccountRow.self) { return Self.account(row) }
        return nil
    }

    public func removeAccount(email: String) async throws -> Bool {
        let rows = try await client.query("DELETE FROM accounts WHERE email = \(email.lowercased()) RETURNING id", logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func setPasswordHash(email: String, hash: String) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                "UPDATE accounts SET password_hash = \(hash) WHERE email = \(email.lowercased()) RETURNING id", logger: logger)
            var found: String?
            for try await id in rows.decode(String.self) { found = id }
            guard let found else { return false }
            try await connection.query("DELETE FROM web_sessions WHERE account_id = \(found)", logger: logger)
            return true
        }
    }

    public func createWebSession(_ session: WebSession) async throws {
        try await client.query(
            """
            INSERT INTO web_sessions (token_hash, account_id, csrf_token, created_at, last_seen_at)
            VALUES (\(session.tokenHash), \(session.userID), \(session.csrfToken), \(session.createdAt), \(session.lastSeenAt))
            """,
            logger: logger)
    }

    public func webSession(tokenHash: String) async throws -> (WebSession, ClinicianAccount)? {
        let rows = try await client.query(
            """
            SELECT w.token_hash, w.csrf_token, w.created_at, w.last_seen_at, a.id, a.clinic_id, a.email, a.role, a.password_hash
            FROM web_sessions w JOIN accounts a ON a.id = w.account_id WHERE w.token_hash = \(tokenHash)
            """,
            logger: logger)
        for try await (token, csrf, created, seen, id, clinic, email, role, hash) in rows.decode(
            (String, String, Date, Date, String, String, String, String, String).self)
        {
            guard let account = Self.account((id, clinic, email, role, hash)) else { return nil }
            return (WebSession(tokenHash: token, userID: id, csrfToken: csrf, createdAt: created, lastSeenAt: seen), account)
        }
        return nil
    }

    public func touchWebSession(tokenHash: String, at date: Date) async throws {
        try await client.query("UPDATE web_sessions SET last_seen_at = \(date) WHERE token_hash = \(tokenHash)", logger: logger)
    }

    public func deleteWebSession(tokenHash: String) async throws {
        try await client.query("DELETE FROM web_sessions WHERE token_hash = \(tokenHash)", logger: logger)
    }

    public func deleteExpiredWebSessions(lastSeenBefore idleCutoff: Date, createdBefore absoluteCutoff: Date) async throws {
        try await client.query(
            "DELETE FROM web_sessions WHERE last_seen_at < \(idleCutoff) OR created_at < \(absoluteCutoff)", logger: logger)
    }

    /// The columns of a visit listing, over `sessions s` joined with `devices d` and `escalation_acks k`.
    private static let visitColumns = """
        SELECT s.id, s.device_id, d.name, s.started_at, s.ended_at, s.heart_rate_median_bpm,
            (s.document -> 'summary' ->> 'snr_median_db')::float8,
            (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id AND t.answered_at IS NOT NULL)::bigint,
            EXISTS (SELECT 1 FROM turns t WHERE t.session_id = s.id AND t.escalation_reason IS NOT NULL),
            k.acknowledged_at, j.state
        FROM sessions s JOIN devices d ON d.id = s.device_id LEFT JOIN escalation_acks k ON k.session_id = s.id
            LEFT JOIN summary_jobs j ON j.session_id = s.id
        """

    private typealias VisitRow = (String, String, String, Date, Date, Double?, Double?, Int64, Bool, Date?, String?)

    private func visitRows(_ query: PostgresQuery) async throws -> [VisitListing] {
        var visits: [VisitListing] = []
        for try await (id, device, name, started, ended, median, snr, turns, escalated, acknowledged, summary) in try await client.query(query, logger: logger)
            .decode(VisitRow.self)
        {
            visits.append(VisitListing(
                id: id, deviceID: device, deviceName: name, startedAt: started, endedAt: ended, heartRateMedianBpm: median, snrMedianDb: snr,
                turnCount: Int(turns), escalated: escalated, acknowledgedAt: acknowledged, summaryState: summary.flatMap(SummaryJobState.init(rawValue:))))
        }
        return visits
    }

    public func visits(_ query: VisitQuery) async throws -> [VisitListing] {
        // Unnamed statements are planned with their values: the NULL tests fold away and the
        // keyset condition uses (clinic_id, started_at, id).
        let afterStart = query.after?.startedAt
        let afterID = query.after?.id
        return try await visitRows(
            """
            \(unescaped: Self.visitColumns)
            WHERE s.clinic_id = \(query.clinicID)
            AND (\(query.deviceID)::text IS NULL OR s.device_id = \(query.deviceID))
            AND (\(query.from)::timestamptz IS NULL OR s.started_at >= \(query.from))
            AND (\(query.until)::timestamptz IS NULL OR s.started_at < \(query.until))
            AND (\(afterStart)::timestamptz IS NULL OR (s.started_at <= \(afterStart) AND (s.started_at < \(afterStart) OR s.id < \(afterID))))
            ORDER BY s.started_at DESC, s.id DESC LIMIT \(query.limit)
            """)
    }

    public func unacknowledgedEscalations(clinicID: String, limit: Int) async throws -> [VisitListing] {
        try await visitRows(
            """
            \(unescaped: Self.visitColumns)
            WHERE s.id IN (SELECT session_id FROM turns WHERE clinic_id = \(clinicID) AND escalation_reason IS NOT NULL)
            AND s.clinic_id = \(clinicID) AND k.session_id IS NULL
            ORDER BY s.started_at DESC, s.id DESC LIMIT \(limit)
            """)
    }

    public func visit(id: String, clinicID: String) async throws -> VisitListing? {
        try await visitRows("\(unescaped: Self.visitColumns) WHERE s.id = \(id) AND s.clinic_id = \(clinicID)").first
    }

    public func acknowledgeEscalation(sessionID: String, clinicID: String, userID: String, at date: Date) async throws -> Bool {
        let escalated = try await client.query(
            """
            SELECT s.id FROM sessions s WHERE s.id = \(sessionID) AND s.clinic_id = \(clinicID)
            AND EXISTS (SELECT 1 FROM turns t WHERE t.session_id = s.id AND t.escalation_reason IS NOT NULL)
            """,
            logger: logger)
        var found = false
        for try await _ in escalated.decode(String.self) { found = true }
        guard found else { return false }
        try await client.query(
            """
            INSERT INTO escalation_acks (session_id, clinic_id, account_id, acknowledged_at)
            VALUES (\(sessionID), \(clinicID), \(userID), \(date)) ON CONFLICT DO NOTHING
            """,
            logger: logger)
        return true
    }

    public func kiosks(clinicID: String, sessionsSince since: Date) async throws -> [KioskListing] {
        let rows = try await client.query(
            """
            SELECT d.id, d.clinic_id, d.name, d.secret_hash, d.revoked_at,
                GREATEST((SELECT MAX(received_at) FROM sessions s WHERE s.device_id = d.id),
                         (SELECT MAX(claimed_at) FROM turns t WHERE t.device_id = d.id)),
                (SELECT document -> 'metadata' ->> 'software_version' FROM sessions s WHERE s.device_id = d.id ORDER BY started_at DESC LIMIT 1),
                (SELECT COUNT(*) FROM sessions s WHERE s.device_id = d.id AND s.started_at >= \(since))::bigint
            FROM devices d WHERE d.clinic_id = \(clinicID) ORDER BY d.name, d.id
            """,
            logger: logger)
        var kiosks: [KioskListing] = []
        for try await (id, clinic, name, hash, revoked, contact, version, count) in rows.decode(
            (String, String, String, String, Date?, Date?, String?, Int64).self)
        {
            kiosks.append(KioskListing(
                device: Device(id: id, clinicID: clinic, name: name, secretHash: hash, revokedAt: revoked), lastContact: contact,
                softwareVersion: version, sessionsSince: Int(count)))
        }
        return kiosks
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try await client.query(
            """
            INSERT INTO audit_log (at, clinic_id, account_id, email, action, subject, address)
            VALUES (\(entry.at), \(entry.clinicID), \(entry.userID), \(entry.email), \(entry.action), \(entry.subject), \(entry.address))
            """,
            logger: logger)
    }

    public func audit(clinicID: String, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        let rows = try await client.query(
            """
            SELECT sequence, at, clinic_id, account_id, email, action, subject, address FROM audit_log
            WHERE clinic_id = \(clinicID) AND sequence < \(before ?? Int64.max) ORDER BY sequence DESC LIMIT \(limit)
            """,
            logger: logger)
        var entries: [AuditEntry] = []
        for try await (sequence, at, clinic, account, email, action, subject, address) in rows.decode(
            (Int64, Date, String, String, String, String, String, String).self)
        {
            entries.append(AuditEntry(
                sequence: sequence, at: at, clinicID: clinic, userID: account, email: email, action: action, subject: subject, address: address))
        }
        return entries
    }
}
