import Foundation
import GRDB

extension SQLiteRelayStore: ClinicianStore {
    public func addAccount(_ account: ClinicianAccount) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM clinics WHERE id = ?", arguments: [account.clinicID]) == true else {
                throw RelayStoreError.unknownClinic(account.clinicID)
            }
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM accounts WHERE email = ?", arguments: [account.email]) != true else {
                throw AccountError.emailTaken(account.email)
            }
            try db.execute(
                sql: "INSERT INTO accounts (id, clinic_id, email, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [account.id, account.clinicID, account.email, account.role.rawValue, account.passwordHash, Date().timeIntervalSince1970])
        }
    }

    public func account(email: String) async throws -> ClinicianAccount? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM accounts WHERE email = ?", arguments: [email.lowercased()]).flatMap(Self.account(from:))
        }
    }

    public func removeAccount(email: String) async throws -> Bool {
        try requireFileInPlace()
        return try await pool.write { db in
            try db.execute(sql: "DELETE FROM accounts WHERE email = ?", arguments: [email.lowercased()])
            return db.changesCount > 0
        }
    }

    public func setPasswordHash(email: String, hash: String) async throws -> Bool {
        try requireFileInPlace()
        return try await pool.write { db in
            try db.execute(sql: "UPDATE accounts SET password_hash = ? WHERE email = ?", arguments: [hash, email.lowercased()])
            guard db.changesCount > 0 else { return false }
            try db.execute(
                sql: "DELETE FROM web_sessions WHERE account_id = (SELECT id FROM accounts WHERE email = ?)", arguments: [email.lowercased()])
            return true
        }
    }

    public func createWebSession(_ session: WebSession) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO web_sessions (token_hash, account_id, csrf_token, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [session.tokenHash, session.userID, session.csrfToken, session.createdAt.timeIntervalSince1970,
                            session.lastSeenAt.timeIntervalSince1970])
        }
    }

    public func webSession(tokenHash: String) async throws -> (WebSession, ClinicianAccount)? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT w.token_hash, w.csrf_token, w.created_at AS session_created_at, w.last_seen_at, a.*
                    FROM web_sessions w JOIN accounts a ON a.id = w.account_id WHERE w.token_hash = ?
                    """),
                arguments: [tokenHash]), let account = Self.account(from: row)
            else { return nil }
            let session = WebSession(
                tokenHash: row["token_hash"], userID: account.id, csrfToken: row["csrf_token"],
                createdAt: Date(timeIntervalSince1970: row["session_created_at"]), lastSeenAt: Date(timeIntervalSince1970: row["last_seen_at"]))
            return (session, account)
        }
    }

    public func touchWebSession(tokenHash: String, at date: Date) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            try db.execute(sql: "UPDATE web_sessions SET last_seen_at = ? WHERE token_hash = ?", arguments: [date.timeIntervalSince1970, tokenHash])
        }
    }

    public func deleteWebSession(tokenHash: String) async throws {
        try requireFileInPlace()
        try await pool.write { db in try db.execute(sql: "DELETE FROM web_sessions WHERE token_hash = ?", arguments: [tokenHash]) }
    }

    public func deleteExpiredWebSessions(lastSeenBefore idleCutoff: Date, createdBefore absoluteCutoff: Date) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM web_sessions WHERE last_seen_at < ? OR created_at < ?",
                arguments: [idleCutoff.timeIntervalSince1970, absoluteCutoff.timeIntervalSince1970])
        }
    }

    /// The columns of a visit listing, over `sessions s` joined with `devices d` and `escalation_acks k`.
    private static let visitColumns = """
        SELECT s.id, s.device_id, d.name AS device_name, s.started_at, s.ended_at, s.heart_rate_median_bpm,
            json_extract(s.document, '$.summary.snr_median_db') AS snr_median_db,
            (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id AND t.answered_at IS NOT NULL) AS turn_count,
            EXISTS (SELECT 1 FROM turns t WHERE t.session_id = s.id AND t.escalation_reason IS NOT NULL) AS escalated,
            k.acknowledged_at, j.state AS summary_state
        FROM sessions s JOIN devices d ON d.id = s.device_id LEFT JOIN escalation_acks k ON k.session_id = s.id
            LEFT JOIN summary_jobs j ON j.session_id = s.id
        """

    public func visits(_ query: VisitQuery) async throws -> [VisitListing] {
        var sql = Self.visitColumns + " WHERE s.clinic_id = ?"
        var arguments: StatementArguments = [query.clinicID]
        if let device = query.deviceID {
            sql += " AND s.device_id = ?"
            arguments += [device]
        }
        if let from = query.from {
            sql += " AND s.started_at >= ?"
            arguments += [from.timeIntervalSince1970]
        }
        if let until = query.until {
            sql += " AND s.started_at < ?"
            arguments += [until.timeIntervalSince1970]
        }
        if let after = query.after {
            sql += " AND (s.started_at < ? OR (s.started_at = ? AND s.id < ?))"
            arguments += [after.startedAt.timeIntervalSince1970, after.startedAt.timeIntervalSince1970, after.id]
        }
        sql += " ORDER BY s.started_at DESC, s.id DESC LIMIT ?"
        arguments += [query.limit]
        return try await pool.read { [sql, arguments] db in try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.visit(from:)) }
    }

    public func unacknowledgedEscalations(clinicID: String, limit: Int) async throws -> [VisitListing] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: Self.visitColumns + """
                     WHERE s.id IN (SELECT session_id FROM turns WHERE clinic_id = ? AND escalation_reason IS NOT NULL)
                    AND s.clinic_id = ? AND k.session_id IS NULL
                    ORDER BY s.started_at DESC, s.id DESC LIMIT ?
                    """,
                arguments: [clinicID, clinicID, limit]
            ).map(Self.visit(from:))
        }
    }

    public func visit(id: String, clinicID: String) async throws -> VisitListing? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: Self.visitColumns + " WHERE s.id = ? AND s.clinic_id = ?", arguments: [id, clinicID]).map(Self.visit(from:))
        }
    }

    public func acknowledgeEscalation(sessionID: String, clinicID: String, userID: String, at date: Date) async throws -> Bool {
        try requireFileInPlace()
        return try await pool.write { db in
            guard try Bool.fetchOne(
                db,
                sql: """
                    SELECT 1 FROM sessions s WHERE s.id = ? AND s.clinic_id = ?
                    AND EXISTS (SELECT 1 FROM turns t WHERE t.session_id = s.id AND t.escalation_reason IS NOT NULL)
                    """,
                arguments: [sessionID, clinicID]) == true
            else { return false }
            try db.execute(
                sql: "INSERT INTO escalation_acks (session_id, clinic_id, account_id, acknowledged_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [sessionID, clinicID, userID, date.timeIntervalSince1970])
            return true
        }
    }

    public func kiosks(clinicID: String, sessionsSince since: Date) async throws -> [KioskListing] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.id, d.clinic_id, d.name, d.secret_hash, d.revoked_at,
                        MAX(COALESCE((SELECT MAX(received_at) FROM sessions s WHERE s.device_id = d.id), 0),
                            COALESCE((SELECT MAX(claimed_at) FROM turns t WHERE t.device_id = d.id), 0)) AS last_contact,
                        (SELECT json_extract(document, '$.metadata.software_version') FROM sessions s WHERE s.device_id = d.id
                         ORDER BY started_at DESC LIMIT 1) AS software_version,
                        (SELECT COUNT(*) FROM sessions s WHERE s.device_id = d.id AND s.started_at >= ?) AS sessions_since
                    FROM devices d WHERE d.clinic_id = ? ORDER BY d.name, d.id
                    """,
                arguments: [since.timeIntervalSince1970, clinicID]
            ).map { row in
                let contact: Double = row["last_contact"]
                return KioskListing(
                    device: Device(
                        id: row["id"], clinicID: row["clinic_id"], name: row["name"], secretHash: row["secret_hash"],
                        revokedAt: (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:))),
                    lastContact: contact > 0 ? Date(timeIntervalSince1970: contact) : nil, softwareVersion: row["software_version"],
                    sessionsSince: row["sessions_since"])
            }
        }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO audit_log (at, clinic_id, account_id, email, action, subject, address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [entry.at.timeIntervalSince1970, entry.clinicID, entry.userID, entry.email, entry.action, entry.subject, entry.address])
        }
    }

    public func audit(clinicID: String, before: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM audit_log WHERE clinic_id = ? AND sequence < ? ORDER BY sequence DESC LIMIT ?",
                arguments: [clinicID, before ?? Int64.max, limit]
            ).map { row in
                AuditEntry(
                    sequence: row["sequence"], at: Date(timeIntervalSince1970: row["at"]), clinicID: row["clinic_id"], userID: row["account_id"],
                    email: row["email"], action: row["action"], subject: row["subject"], address: row["address"])
            }
        }
    }

    private static func account(from row: Row) -> ClinicianAccount? {
        guard let role = ClinicianRole(rawValue: row["role"]) else { return nil }
        return ClinicianAccount(id: row["id"], clinicID: row["clinic_id"], email: row["email"], role: role, passwordHash: row["password_hash"])
    }

    private static func visit(from row: Row) -> VisitListing {
        VisitListing(
            id: row["id"], deviceID: row["device_id"], deviceName: row["device_name"],
            startedAt: Date(timeIntervalSince1970: row["started_at"]), endedAt: Date(timeIntervalSince1970: row["ended_at"]),
            heartRateMedianBpm: row["heart_rate_median_bpm"], snrMedianDb: row["snr_median_db"], turnCount: row["turn_count"],
            escalated: row["escalated"], acknowledgedAt: (row["acknowledged_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            summaryState: (row["summary_state"] as String?).flatMap(SummaryJobState.init(rawValue:)))
    }
}
