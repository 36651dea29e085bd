import Foundation

/// Where a visit's summary job stands.
public enum SummaryJobState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Waiting for a worker (new, re-queued, or waiting out a backoff).
    case queued
    /// Held by a worker until its lease runs out.
    case running
    /// Its summary is stored.
    case done
    /// It kept failing; the reason is kept.
    case failed
}

/// One visit's summary job: a row per session, re-queued (a new generation) when what the
/// summary says changes, such as a voice turn answered after the session was stored.
public struct SummaryJob: Sendable, Hashable {
    public var sessionID: String
    public var clinicID: String
    public var state: SummaryJobState
    /// Bumped on every re-queue: a worker's result counts only for the generation it claimed.
    public var generation: Int
    /// Attempts in this generation.
    public var attempts: Int
    /// When it was (last) queued.
    public var queuedAt: Date
    /// When a queued job may next be claimed (after a backoff).
    public var availableAt: Date
    /// Until when a running job's worker holds it.
    public var leaseUntil: Date?
    /// The worker holding it, or that last held it.
    public var worker: String?
    /// Why the last attempt failed.
    public var lastError: String?

    /// A job.
    public init(
        sessionID: String, clinicID: String, state: SummaryJobState, generation: Int, attempts: Int, queuedAt: Date, availableAt: Date,
        leaseUntil: Date?, worker: String?, lastError: String?
    ) {
        self.sessionID = sessionID
        self.clinicID = clinicID
        self.state = state
        self.generation = generation
        self.attempts = attempts
        self.queuedAt = queuedAt
        self.availableAt = availableAt
        self.leaseUntil = leaseUntil
        self.worker = worker
        self.lastError = lastError
    }
}

/// A job a worker holds: the session, the generation it is summarising, which attempt.
public struct ClaimedSummaryJob: Sendable, Hashable {
    public var sessionID: String
    public var generation: Int
    public var attempts: Int

    /// A claim.
    public init(sessionID: String, generation: Int, attempts: Int) {
        self.sessionID = sessionID
        self.generation = generation
        self.attempts = attempts
    }
}

/// A visit's summary as stored: its words and who wrote them with which prompt.
public struct StoredSummary: Sendable, Hashable {
    public var sessionID: String
    /// The job generation it summarises.
    public var generation: Int
    public var text: String
    /// The model id, or `offline` for the relay's own template.
    public var model: String
    public var promptVersion: String
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var createdAt: Date

    /// A summary.
    public init(
        sessionID: String, generation: Int, text: String, model: String, promptVersion: String, inputTokens: Int?, outputTokens: Int?, createdAt: Date
    ) {
        self.sessionID = sessionID
        self.generation = generation
        self.text = text
        self.model = model
        self.promptVersion = promptVersion
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.createdAt = createdAt
    }

    /// Written by the relay's template, not a model.
    public var isOffline: Bool { model == OfflineSummariser.modelName }
}

/// How full the queue is (for metrics).
public struct SummaryQueueStatus: Sendable, Hashable {
    /// Jobs queued or running.
    public var depth: Int
    /// Seconds since the oldest of them was queued (0 when none).
    public var oldestAgeSeconds: Double
    /// Jobs that failed for good.
    public var failed: Int

    /// A status.
    public init(depth: Int, oldestAgeSeconds: Double, failed: Int) {
        self.depth = depth
        self.oldestAgeSeconds = oldestAgeSeconds
        self.failed = failed
    }
}

/// The summaries' part of the store: a job queue that hands each job to one worker at a time
/// across every relay instance (Postgres: `FOR UPDATE SKIP LOCKED`; SQLite: its one writer),
/// with leases that expire so a killed instance's job is taken over, and the summaries.
///
/// Queuing happens inside the store: storing a session queues its job in the same transaction,
/// and completing a turn of a stored session re-queues it (a new generation).
public protocol SummaryStore {
    /// Claims up to `limit` jobs that are queued and due, or running with an expired lease,
    /// for `worker`, holding each for `lease`.
    func claimSummaryJobs(worker: String, limit: Int, lease: Duration) async throws -> [ClaimedSummaryJob]
    /// Stores `summary` and marks the job done, in one transaction, if `worker` still holds
    /// generation `summary.generation` of it; `false` (nothing stored) if not: the lease
    /// expired and another worker took it, or the job was re-queued meanwhile.
    func completeSummaryJob(_ summary: StoredSummary, worker: String) async throws -> Bool
    /// Gives a held job back: queued again from `retryAt`, or `failed` for good, with the reason.
    func releaseSummaryJob(sessionID: String, generation: Int, worker: String, retryAt: Date?, error: String) async throws
    /// The session's latest summary.
    func summary(sessionID: String) async throws -> StoredSummary?
    /// The session's job.
    func summaryJob(sessionID: String) async throws -> SummaryJob?
    /// Jobs, most recently queued first (at most `limit`).
    func summaryJobs(limit: Int) async throws -> [SummaryJob]
    /// How full the queue is.
    func summaryQueueStatus() async throws -> SummaryQueueStatus
}
