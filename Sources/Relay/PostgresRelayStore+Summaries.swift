import Foundation
import PostgresNIO

extension PostgresRelayStore: SummaryStore {
    public func claimSummaryJobs(worker: String, limit: Int, lease: Duration) async throws -> [ClaimedSummaryJob] {
        let seconds = Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
        // SKIP LOCKED: instances claiming at once each get other rows, none waits for another.
        let rows = try await client.query(
            """
            UPDATE summary_jobs j SET state = 'running', attempts = j.attempts + 1, lease_until = now() + make_interval(secs => \(seconds)),
                worker = \(worker)
            WHERE j.session_id IN (
                SELECT session_id FROM summary_jobs
                WHERE state IN ('queued', 'running') AND ((state = 'queued' AND available_at <= now()) OR (state = 'running' AND lease_until < now()))
                ORDER BY available_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            RETURNING j.session_id, j.generation, j.attempts
            """,
            logger: logger)
        var jobs: [ClaimedSummaryJob] = []
        for try await (session, generation, attempts) in rows.decode((String, Int32, Int32).self) {
            jobs.append(ClaimedSummaryJob(sessionID: session, generation: Int(generation), attempts: Int(attempts)))
        }
        return jobs
    }

    public func completeSummaryJob(_ summary: StoredSummary, worker: String) async throws -> Bool {
        // Marked done only by the worker holding this generation, and the summary stored with
        // it in one statement: never two summaries of one generation, never a done job without one.
        let rows = try await client.query(
            """
            WITH done AS (
                UPDATE summary_jobs SET state = 'done', lease_until = NULL, last_error = NULL
                WHERE session_id = \(summary.sessionID) AND generation = \(Int32(summary.generation)) AND worker = \(worker) AND state = 'running'
                RETURNING session_id, generation
            )
            INSERT INTO summaries (session_id, generation, text, model, prompt_version, input_tokens, output_tokens, created_at)
            SELECT session_id, generation, \(summary.text), \(summary.model), \(summary.promptVersion), \(summary.inputTokens.map(Int32.init)),
                \(summary.outputTokens.map(Int32.init)), \(summary.createdAt)
            FROM done
            RETURNING session_id
            """,
            logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func releaseSummaryJob(sessionID: String, generation: Int, worker: String, retryAt: Date?, error: String) async throws {
        try await client.query(
            """
            UPDATE summary_jobs SET state = \(retryAt == nil ? "failed" : "queued"), available_at = COALESCE(\(retryAt), available_at),
                lease_until = NULL, last_error = \(error)
            WHERE session_id = \(sessionID) AND generation = \(Int32(generation)) AND worker = \(worker) AND state = 'running'
            """,
            logger: logger)
    }

    public func summary(sessionID: String) async throws -> StoredSummary? {
        let rows = try await client.query(
            """
            SELECT session_id, generation, text, model, prompt_version, input_tokens, output_tokens, created_at FROM summaries
            WHERE session_id = \(sessionID) ORDER BY generation DESC LIMIT 1
            """,
            logger: logger)
        for try await (session, generation, text, model, prompt, input, output, created) in rows.decode(
            (String, Int32, String, String, String, Int32?, Int32?, Date).self)
        {
            return StoredSummary(
                sessionID: session, generation: Int(generation), text: text, model: model, promptVersion: prompt, inputTokens: input.map(Int.init),
                outputTokens: output.map(Int.init), createdAt: created)
        }
        return nil
    }

    private static let jobColumns = "session_id, clinic_id, state, generation, attempts, queued_at, available_at, lease_until, worker, last_error"

    private func jobs(_ query: PostgresQuery) async throws -> [SummaryJob] {
        var jobs: [SummaryJob] = []
        for try await (session, clinic, state, generation, attempts, queued, available, lease, worker, error) in try await client.query(query, logger: logger)
            .decode((String, String, String, Int32, Int32, Date, Date, Date?, String?, String?).self)
        {
            guard let state = SummaryJobState(rawValue: state) else { continue }
            jobs.append(SummaryJob(
                sessionID: session, clinicID: clinic, state: state, generation: Int(generation), attempts: Int(attempts), queuedAt: queued,
                availableAt: available, leaseUntil: lease, worker: worker, lastError: error))
        }
        return jobs
    }

    public func summaryJob(sessionID: String) async throws -> SummaryJob? {
        try await jobs("SELECT \(unescaped: Self.jobColumns) FROM summary_jobs WHERE session_id = \(sessionID)").first
    }

    public func summaryJobs(limit: Int) async throws -> [SummaryJob] {
        try await jobs("SELECT \(unescaped: Self.jobColumns) FROM summary_jobs ORDER BY queued_at DESC LIMIT \(limit)")
    }

    public func summaryQueueStatus() async throws -> SummaryQueueStatus {
        let rows = try await client.query(
            """
            SELECT (SELECT COUNT(*) FROM summary_jobs WHERE state IN ('queued', 'running'))::bigint,
                COALESCE((SELECT EXTRACT(EPOCH FROM now() - MIN(queued_at)) FROM summary_jobs WHERE state IN ('queued', 'running'))::float8, 0),
                (SELECT COUNT(*) FROM summary_jobs WHERE state = 'failed')::bigint
            """,
            logger: logger)
        for try await (depth, age, failed) in rows.decode((Int64, Double, Int64).self) {
            return SummaryQueueStatus(depth: Int(depth), oldestAgeSeconds: max(0, age), failed: Int(failed))
        }
        return SummaryQueueStatus(depth: 0, oldestAgeSeconds: 0, failed: 0)
    }
}
