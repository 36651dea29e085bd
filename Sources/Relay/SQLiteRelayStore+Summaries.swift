import Foundation
import GRDB

extension SQLiteRelayStore: SummaryStore {
    /// Queues a new generation of the session's summary job, if the session is stored.
    static func requeueSummary(_ db: Database, sessionID: String) throws {
        let now = Date().timeIntervalSince1970
        try db.execute(
            sql: """
                UPDATE summary_jobs SET state = 'queued', generation = generation + 1, attempts = 0, queued_at = ?, available_at = ?,
                    lease_until = NULL, last_error = NULL
                WHERE session_id = ?
                """,
            arguments: [now, now, sessionID])
    }

    public func claimSummaryJobs(worker: String, limit: Int, lease: Duration) async throws -> [ClaimedSummaryJob] {
        try requireFileInPlace()
        let now = Date().timeIntervalSince1970
        let until = now + Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
        // SQLite has one writer: the select and the updates are one write transaction, so no
        // other worker (thread or process) sees the jobs between them.
        return try await pool.write { db in
            let due = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT session_id, generation, attempts FROM summary_jobs
                    WHERE state IN ('queued', 'running') AND ((state = 'queued' AND available_at <= ?) OR (state = 'running' AND lease_until < ?))
                    ORDER BY available_at LIMIT ?
                    """),
                arguments: [now, now, limit])
            return try due.map { row in
                let job = ClaimedSummaryJob(sessionID: row["session_id"], generation: row["generation"], attempts: (row["attempts"] as Int) + 1)
                try db.cachedStatement(sql: "UPDATE summary_jobs SET state = 'running', attempts = ?, lease_until = ?, worker = ? WHERE session_id = ?")
                    .execute(arguments: [job.attempts, until, worker, job.sessionID])
                return job
            }
        }
    }

    public func completeSummaryJob(_ summary: StoredSummary, worker: String) async throws -> Bool {
        try requireFileInPlace()
        return try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE summary_jobs SET state = 'done', lease_until = NULL, last_error = NULL
                    WHERE session_id = ? AND generation = ? AND worker = ? AND state = 'running'
                    """,
                arguments: [summary.sessionID, summary.generation, worker])
            guard db.changesCount > 0 else { return false }
            try db.execute(
                sql: """
                    INSERT INTO summaries (session_id, generation, text, model, prompt_version, input_tokens, output_tokens, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [summary.sessionID, summary.generation, summary.text, summary.model, summary.promptVersion, summary.inputTokens,
                            summary.outputTokens, summary.createdAt.timeIntervalSince1970])
            return true
        }
    }

    public func releaseSummaryJob(sessionID: String, generation: Int, worker: String, retryAt: Date?, error: String) async throws {
        try requireFileInPlace()
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE summary_jobs SET state = ?, available_at = COALESCE(?, available_at), lease_until = NULL, last_error = ?
                    WHERE session_id = ? AND generation = ? AND worker = ? AND state = 'running'
                    """,
                arguments: [retryAt == nil ? "failed" : "queued", retryAt?.timeIntervalSince1970, error, sessionID, generation, worker])
        }
    }

    public func summary(sessionID: String) async throws -> StoredSummary? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM summaries WHERE session_id = ? ORDER BY generation DESC LIMIT 1", arguments: [sessionID]).map {
                StoredSummary(
                    sessionID: $0["session_id"], generation: $0["generation"], text: $0["text"], model: $0["model"], promptVersion: $0["prompt_version"],
                    inputTokens: $0["input_tokens"], outputTokens: $0["output_tokens"], createdAt: Date(timeIntervalSince1970: $0["created_at"]))
            }
        }
    }

    public func summaryJob(sessionID: String) async throws -> SummaryJob? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM summary_jobs WHERE session_id = ?", arguments: [sessionID]).flatMap(Self.job(from:))
        }
    }

    public func summaryJobs(limit: Int) async throws -> [SummaryJob] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM summary_jobs ORDER BY queued_at DESC LIMIT ?", arguments: [limit]).compactMap(Self.job(from:))
        }
    }

    public func summaryQueueStatus() async throws -> SummaryQueueStatus {
        try await pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT COUNT(*) FROM summary_jobs WHERE state IN ('queued', 'running')) AS depth,
                        (SELECT MIN(queued_at) FROM summary_jobs WHERE state IN ('queued', 'running')) AS oldest,
                        (SELECT COUNT(*) FROM summary_jobs WHERE state = 'failed') AS failed
                    """)
            let oldest = row?["oldest"] as Double?
            return SummaryQueueStatus(
                depth: row?["depth"] ?? 0, oldestAgeSeconds: oldest.map { max(0, Date().timeIntervalSince1970 - $0) } ?? 0, failed: row?["failed"] ?? 0)
        }
    }

    private static func job(from row: Row) -> SummaryJob? {
        guard let state = SummaryJobState(rawValue: row["state"]) else { return nil }
        return SummaryJob(
            sessionID: row["session_id"], clinicID: row["clinic_id"], state: state, generation: row["generation"], attempts: row["attempts"],
            queuedAt: Date(timeIntervalSince1970: row["queued_at"]), availableAt: Date(timeIntervalSince1970: row["available_at"]),
            leaseUntil: (row["lease_until"] as Double?).map(Date.init(timeIntervalSince1970:)), worker: row["worker"], lastError: row["last_error"])
    }
}
