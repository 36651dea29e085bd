import Foundation
import HHProtocol
import Logging
import Metrics
import ServiceLifecycle

/// How the summary workers behave.
public struct SummaryWorkerSettings: Sendable, Hashable {
    /// Jobs worked on at once by one instance.
    public var concurrency = 2
    /// How long a claimed job is held before another instance may take it over.
    public var lease: Duration = .seconds(60)
    /// How long an idle worker waits before looking for jobs again.
    public var pollInterval: Duration = .milliseconds(500)
    /// Attempts of one generation before the job is marked failed.
    public var maximumAttempts = 6
    /// The first retry's delay; each further one doubles it (at most ``maximumRetryDelay``), with jitter.
    public var retryDelay: Duration = .seconds(2)
    public var maximumRetryDelay: Duration = .seconds(300)
    /// US dollars per 1,000 input and output tokens, for the cost metric.
    public var dollarsPer1KInputTokens = 0.00025
    public var dollarsPer1KOutputTokens = 0.00125

    /// The defaults.
    public init() {}

    /// The delay before attempt `attempt + 1` after `attempt` failed: exponential, then a
    /// random part of it ("equal jitter": between half and all of it), so instances that failed
    /// together do not retry together.
    public func delay(afterAttempt attempt: Int, random: Double = .random(in: 0...1)) -> Duration {
        let base = Double(retryDelay.components.seconds) + Double(retryDelay.components.attoseconds) / 1e18
        let ceiling = Double(maximumRetryDelay.components.seconds)
        let exponential = min(ceiling, base * pow(2, Double(max(0, attempt - 1))))
        return .milliseconds(Int((exponential / 2 + exponential / 2 * random) * 1000))
    }
}

/// The summary workers of one relay instance, a `Service` under the lifecycle: each worker
/// claims a job, reads the visit, has it summarised and stores the summary (only if it still
/// holds the job); a failure is retried with backoff or, after the last attempt, marked failed
/// with its reason. On graceful shutdown no new job is claimed; a job in hand is finished, or
/// released for another instance if the shutdown cuts it off.
public struct SummaryWorkers: Service {
    let store: any RelayStore
    let summariser: any Summariser
    let settings: SummaryWorkerSettings
    let instance: String
    let logger: Logger

    private let duration = Timer(label: "hh_relay_summary_job_duration")
    private let depth = Gauge(label: "hh_relay_summary_queue_depth")
    private let oldest = Gauge(label: "hh_relay_summary_oldest_job_seconds")
    private let failedJobs = Gauge(label: "hh_relay_summary_failed_jobs")
    private let cost = Recorder(label: "hh_relay_summary_cost_dollars")

    /// Workers over `store` with `summariser`.
    public init(store: any RelayStore, summariser: any Summariser, settings: SummaryWorkerSettings, logger: Logger) {
        self.store = store
        self.summariser = summariser
        self.settings = settings
        instance = String(RandomID.uuid().prefix(8))
        self.logger = logger
    }

    public func run() async throws {
        // The server migrates before it listens; the workers may start first.
        try await store.migrate()
        await withDiscardingTaskGroup { group in
            for index in 0..<settings.concurrency {
                group.addTask { await work(as: "\(instance)-\(index)") }
            }
            group.addTask { await reportQueue() }
        }
    }

    /// Sleeps, returning early on graceful shutdown or cancellation.
    private func pause(_ duration: Duration) async {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }

    private func work(as worker: String) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let jobs: [ClaimedSummaryJob]
            do {
                jobs = try await store.claimSummaryJobs(worker: worker, limit: 1, lease: settings.lease)
            } catch {
                logger.warning("summary jobs could not be claimed", metadata: ["error": "\(error)"])
                await pause(settings.pollInterval * 4)
                continue
            }
            guard let job = jobs.first else {
                await pause(settings.pollInterval)
                continue
            }
            await process(job, worker: worker)
        }
    }

    /// Works one job to its outcome: stored, retried later, or failed.
    func process(_ job: ClaimedSummaryJob, worker: String) async {
        let start = ContinuousClock.now
        var metadata: Logger.Metadata = ["session_id": "\(job.sessionID)", "generation": "\(job.generation)", "attempt": "\(job.attempts)"]
        let outcome: String
        do {
            let input = try await self.input(job.sessionID)
            let draft = try await summariser.summarise(input)
            let summary = StoredSummary(
                sessionID: job.sessionID, generation: job.generation, text: draft.text, model: draft.model, promptVersion: draft.promptVersion,
                inputTokens: draft.inputTokens, outputTokens: draft.outputTokens, createdAt: Date())
            if try await store.completeSummaryJob(summary, worker: worker) {
                outcome = "done"
                if let input = draft.inputTokens, let output = draft.outputTokens {
                    cost.record(Double(input) / 1000 * settings.dollarsPer1KInputTokens + Double(output) / 1000 * settings.dollarsPer1KOutputTokens)
                }
            } else {
                // Another worker took it over (our lease ran out) or it was queued again.
                outcome = "superseded"
            }
        } catch {
            let reason = "\(error)"
            metadata["error"] = "\(reason)"
            let permanent = if case SummaryError.permanent = error { true } else { false }
            let last = permanent || job.attempts >= settings.maximumAttempts
            // Cut off by shutdown: back at once for another instance, not counted against it.
            let retryAt: Date? = Task.isCancelled ? Date() : last ? nil : Date().addingTimeInterval(seconds(settings.delay(afterAttempt: job.attempts)))
            do {
                try await store.releaseSummaryJob(sessionID: job.sessionID, generation: job.generation, worker: worker, retryAt: retryAt, error: reason)
            } catch {
                logger.warning("a summary job could not be released; its lease will expire", metadata: ["error": "\(error)"])
            }
            outcome = retryAt == nil ? "failed" : "retried"
        }
        duration.record(duration: ContinuousClock.now - start)
        Counter(label: "hh_relay_summary_jobs_total", dimensions: [("outcome", outcome)]).increment()
        metadata["outcome"] = "\(outcome)"
        logger.log(level: outcome == "done" ? .info : .warning, "summary job", metadata: metadata)
    }

    /// What the job's summary is written from.
    private func input(_ sessionID: String) async throws -> SummaryInput {
        guard let stored = try await store.session(id: sessionID) else { throw SummaryError.permanent("session \(sessionID) is not stored") }
        guard let document = try? WireJSON.decoder().decode(SessionDocument.self, from: Data(stored.document.utf8)) else {
            throw SummaryError.permanent("session \(sessionID)'s document cannot be read")
        }
        let turns = try await store.turns(sessionID: sessionID).filter { $0.clinicID == stored.clinicID }
        let kiosk = try await store.device(id: stored.deviceID)?.name ?? stored.deviceID
        return SummaryInput(document: document, turns: turns, kioskName: kiosk)
    }

    /// Queue depth, the oldest job's age and failed jobs, every few seconds.
    private func reportQueue() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let status = try? await store.summaryQueueStatus() {
                depth.record(status.depth)
                oldest.record(status.oldestAgeSeconds)
                failedJobs.record(status.failed)
            }
            await pause(.seconds(5))
        }
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
