import Foundation
import AWSSigning
import HHProtocol
import Logging
import Relay
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The summary job queue's part of the store contract, both back ends.
@Suite struct SummaryQueueContractTests {
    private func summary(_ job: ClaimedSummaryJob, _ text: String = "summary") -> StoredSummary {
        StoredSummary(sessionID: job.sessionID, generation: job.generation, text: text, model: "m", promptVersion: "p1", inputTokens: 10, outputTokens: 5, createdAt: Date())
    }

    private func storeWithSessions(_ backend: Backend, _ count: Int) async throws -> (any RelayStore, [String]) {
        let store = try backend.freshStore()
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        _ = try await store.addDevice(id: "n1", clinicID: clinic.id, name: "Lobby", secretHash: "h")
        var ids: [String] = []
        for index in 0..<count {
            let id = UUID().uuidString.lowercased()
            #expect(try await store.store(visitSession(id, clinic: clinic.id, device: "n1", start: Double(index))) == .created)
            ids.append(id)
        }
        return (store, ids)
    }

    @Test(arguments: Backend.allCases)
    func storingASessionQueuesItsJobAndOneWorkerCompletesIt(_ backend: Backend) async throws {
        let (store, ids) = try await storeWithSessions(backend, 1)
        let job = try #require(try await store.summaryJob(sessionID: ids[0]))
        #expect(job.state == .queued && job.generation == 1 && job.attempts == 0)
        let claimed = try await store.claimSummaryJobs(worker: "w1", limit: 5, lease: .seconds(60))
        #expect(claimed == [ClaimedSummaryJob(sessionID: ids[0], generation: 1, attempts: 1)])
        let mine = try #require(claimed.first)
        #expect(try await store.claimSummaryJobs(worker: "w2", limit: 5, lease: .seconds(60)).isEmpty, "held by w1")
        #expect(try await !store.completeSummaryJob(summary(mine, "not mine"), worker: "w2"))
        #expect(try await store.completeSummaryJob(summary(mine), worker: "w1"))
        #expect(try await !store.completeSummaryJob(summary(mine, "twice"), worker: "w1"), "done once")
        #expect(try await store.summary(sessionID: ids[0])?.text == "summary")
        #expect(try await store.summaryJob(sessionID: ids[0])?.state == .done)
        #expect(try await store.claimSummaryJobs(worker: "w2", limit: 5, lease: .seconds(60)).isEmpty)

        // A voice turn answered after the session was stored queues a new generation.
        let session = try #require(try await store.session(id: ids[0]))
        _ = try await answerTurn(store, session: ids[0], clinic: session.clinicID, device: "n1", transcript: "one more thing")
        let again = try #require(try await store.summaryJob(sessionID: ids[0]))
        #expect(again.state == .queued && again.generation == 2 && again.attempts == 0)
        let second = try await store.claimSummaryJobs(worker: "w3", limit: 5, lease: .seconds(60))
        #expect(second.map(\.generation) == [2])
        let newer = try #require(second.first)
        // Re-queued again while w3 works on generation 2: w3's result no longer counts.
        _ = try await answerTurn(store, session: ids[0], clinic: session.clinicID, device: "n1", transcript: "and another")
        #expect(try await !store.completeSummaryJob(summary(newer, "stale"), worker: "w3"))
        #expect(try await store.summary(sessionID: ids[0])?.generation == 1)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func anExpiredLeaseIsTakenOverAndOnlyTheNewHolderCompletes(_ backend: Backend) async throws {
        let (store, ids) = try await storeWithSessions(backend, 1)
        let lease = Duration.seconds(3)
        // The lease starts somewhere inside the claim: after `claiming`, before `claimedAt` (a
        // loaded machine can take seconds in between).
        let claiming = ContinuousClock.now
        let first = try await store.claimSummaryJobs(worker: "dead", limit: 1, lease: lease)
        let claimedAt = ContinuousClock.now
        let dead = try #require(first.first)
        // While the lease holds nobody else gets the job (on a machine so slow that the lease ran
        // out before the second claim, the second claim is the takeover).
        var taken = try await store.claimSummaryJobs(worker: "live", limit: 1, lease: .seconds(60))
        if taken.isEmpty {
            try await Task.sleep(until: claimedAt + lease + .milliseconds(300), clock: .continuous)
            taken = try await store.claimSummaryJobs(worker: "live", limit: 1, lease: .seconds(60))
        } else {
            #expect(ContinuousClock.now - claiming >= lease, "taken over only once the lease ran out")
        }
        let live = try #require(taken.first)
        #expect(live == ClaimedSummaryJob(sessionID: ids[0], generation: 1, attempts: 2), "taken over; the crash counts as an attempt")
        #expect(try await !store.completeSummaryJob(summary(dead, "late"), worker: "dead"))
        #expect(try await store.completeSummaryJob(summary(live), worker: "live"))
        #expect(try await store.summary(sessionID: ids[0])?.text == "summary")
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func releasedJobsWaitOutTheirBackoffOrFail(_ backend: Backend) async throws {
        let (store, ids) = try await storeWithSessions(backend, 2)
        let jobs = try await store.claimSummaryJobs(worker: "w", limit: 2, lease: .seconds(60))
        #expect(Set(jobs.map(\.sessionID)) == Set(ids))
        let releasedAt = ContinuousClock.now
        try await store.releaseSummaryJob(sessionID: ids[0], generation: 1, worker: "w", retryAt: Date().addingTimeInterval(3), error: "throttled")
        try await store.releaseSummaryJob(sessionID: ids[1], generation: 1, worker: "w", retryAt: nil, error: "Bedrock refused (403)")
        #expect(try await store.summaryJob(sessionID: ids[1])?.state == .failed)
        #expect(try await store.summaryJob(sessionID: ids[1])?.lastError == "Bedrock refused (403)")
        let status = try await store.summaryQueueStatus()
        #expect(status.depth == 1 && status.failed == 1 && status.oldestAgeSeconds >= 0)
        var again = try await store.claimSummaryJobs(worker: "w", limit: 2, lease: .seconds(60))
        if again.isEmpty {
            try await Task.sleep(until: releasedAt + .seconds(3.3), clock: .continuous)
            again = try await store.claimSummaryJobs(worker: "w", limit: 2, lease: .seconds(60))
        } else {
            #expect(ContinuousClock.now - releasedAt >= .seconds(3), "claimed again only after its backoff")
        }
        #expect(again == [ClaimedSummaryJob(sessionID: ids[0], generation: 1, attempts: 2)], "the failed job is not claimed again")
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func workersClaimingAtOnceEachGetOtherJobs(_ backend: Backend) async throws {
        let (store, ids) = try await storeWithSessions(backend, 40)
        let claims = try await withThrowingTaskGroup(of: [ClaimedSummaryJob].self) { group in
            for worker in 0..<5 {
                group.addTask {
                    var mine: [ClaimedSummaryJob] = []
                    while true {
                        let batch = try await store.claimSummaryJobs(worker: "w\(worker)", limit: 3, lease: .seconds(60))
                        if batch.isEmpty { return mine }
                        mine += batch
                    }
                }
            }
            return try await group.reduce(into: [[ClaimedSummaryJob]]()) { $0.append($1) }
        }
        let all = claims.flatMap { $0 }
        #expect(all.count == 40 && Set(all.map(\.sessionID)) == Set(ids), "every job to exactly one worker")
        await store.close()
    }
}

/// The summarisers and the workers' rules.
@Suite struct SummariserTests {
    func input(bpm: Double?, snr: Double? = 7.5, escalation: String? = nil) -> SummaryInput {
        let samples = (0..<60).map { HeartRateSample(t: Double($0), bpm: $0 < 10 ? nil : bpm, snrDb: $0 < 10 ? nil : snr) }
        let document = SessionDocument(
            id: UUID().uuidString.lowercased(), startedAt: Date(timeIntervalSince1970: 1_800_000_000), endedAt: Date(timeIntervalSince1970: 1_800_000_060),
            endReason: .absence, heartRate: samples, summary: VitalsSummary(series: samples), voiceTurns: [],
            metadata: SessionMetadata(softwareVersion: "0.5.0", pulseMethod: "pos"))
        let turn = StoredTurn(
            id: "t1", sessionID: document.id, clinicID: "c", deviceID: "d", startedAt: Date(timeIntervalSince1970: 1_800_000_020), audioDigest: "a",
            transcript: escalation == nil ? "what is my heart rate" : "I have chest pain", replyText: "About seventy.", escalationReason: escalation, response: "{}")
        return SummaryInput(document: document, turns: [turn], kioskName: "Lobby")
    }

    @Test func theFactsQuoteOnlyWhatWasMeasuredWithItsReliability() {
        let measured = SummaryFacts.lines(input(bpm: 71.6)).joined(separator: "\n")
        #expect(measured.contains("Heart rate: median 72 beats per minute, a clear reading") && measured.contains("estimated for 50 of 60 s"))
        #expect(measured.contains("withheld a reading for the other 10 s") && measured.contains("Respiration: not measured."))
        let weak = SummaryFacts.lines(input(bpm: 90, snr: 1.2)).joined(separator: "\n")
        #expect(weak.contains("a weak reading"))
        let none = SummaryFacts.lines(input(bpm: nil)).joined(separator: "\n")
        #expect(none.contains("not measured; the kiosk withheld every reading") && !none.contains("median"))
        let urgent = SummaryFacts.lines(input(bpm: 80, escalation: "chest_pain"))
        #expect(urgent[1].hasPrefix("Emergency raised by the kiosk (chest pain)"), "the escalation comes first, after the visit line")
    }

    @Test func theOfflineSummarySaysItIsOne() async throws {
        let draft = try await OfflineSummariser().summarise(input(bpm: 71.6))
        #expect(draft.model == "offline" && draft.promptVersion == OfflineSummariser.promptVersion)
        #expect(draft.text.hasPrefix("Offline summary") && draft.text.contains("not by a language model") && draft.text.contains("72 beats per minute"))
    }

    @Test func retriesBackOffExponentiallyWithJitterUpToACap() {
        let settings = SummaryWorkerSettings()
        #expect(settings.delay(afterAttempt: 1, random: 0) == .seconds(1) && settings.delay(afterAttempt: 1, random: 1) == .seconds(2))
        #expect(settings.delay(afterAttempt: 3, random: 1) == .seconds(8) && settings.delay(afterAttempt: 3, random: 0) == .seconds(4))
        #expect(settings.delay(afterAttempt: 20, random: 1) == .seconds(300), "capped")
        let spread = Set((0..<50).map { _ in settings.delay(afterAttempt: 4) })
        #expect(spread.count > 10 && spread.allSatisfy { $0 >= .seconds(8) && $0 <= .seconds(16) })
    }

    @Test func bedrockConverseAgainstTheFake() async throws {
        let fakes = try VoiceFakes()
        func summariser(_ credentials: (any AWSCredentialProvider)? = nil, deadline: Duration = .seconds(5)) -> BedrockSummariser {
            BedrockSummariser(modelID: "anthropic.claude-3-haiku-20240307-v1:0", region: "us-east-1", credentials: credentials ?? fakes.credentials,
                              endpoint: fakes.endpoint, deadline: deadline)
        }
        let draft = try await summariser().summarise(input(bpm: 71.6, escalation: "chest_pain"))
        #expect(draft.model == "anthropic.claude-3-haiku-20240307-v1:0" && draft.promptVersion == BedrockSummariser.prompt.version)
        #expect(draft.text.contains("72 beats per minute (a clear reading)") && (draft.inputTokens ?? 0) > 0 && (draft.outputTokens ?? 0) > 0)
        let sent = try #require(try await fakes.calls("summary").last?["request"] as? [String: Any])
        let system = ((sent["system"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        #expect(system.contains("Do not diagnose"), "the versioned prompt is the system text")
        let facts = (((sent["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        #expect(facts.contains("Emergency raised by the kiosk (chest pain)") && facts.contains("I have chest pain"))

        await #expect(throws: SummaryError.self) { try await summariser(fakes.wrongCredentials).summarise(input(bpm: 70)) }
        do { _ = try await summariser(fakes.wrongCredentials).summarise(input(bpm: 70)) } catch {
            guard case .permanent(let reason) = error else { Issue.record("a bad signature is permanent: \(error)"); return }
            #expect(reason.contains("403") && reason.contains("signature"))
        }
        #expect(try await fakes.calls("summary").rejected == 2)
        for (mode, words) in [("throttle", "throttled"), ("fail", "500")] {
            try await fakes.set("summary", mode)
            do { _ = try await summariser().summarise(input(bpm: 70)); Issue.record("\(mode) must fail") } catch {
                guard case .retryable(let reason) = error else { Issue.record("\(mode) is retryable: \(error)"); continue }
                #expect(reason.contains(words), "\(reason)")
            }
        }
        try await fakes.set("summary", "hang")
        let start = ContinuousClock.now
        do { _ = try await summariser(deadline: .seconds(1)).summarise(input(bpm: 70)); Issue.record("a hang must time out") } catch {
            guard case .retryable = error else { Issue.record("a hang is retryable: \(error)"); return }
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        try await fakes.set("summary", "diagnose")
        let withheld = try await summariser().summarise(input(bpm: 70))
        #expect(withheld.model == "offline" && withheld.text.contains("was withheld because it read as") && !withheld.text.contains("aspirin"))
    }
}

/// The workers in real relay processes.
@Suite(.serialized) struct SummaryWorkerTests {
    private let relayTool = productsDirectory.appendingPathComponent("hh-relay").path

    private func summaryJSON(_ relay: RelayProcess, _ id: String) throws -> [String: Any]? {
        let result = try run(relayTool, ["admin", "summary", id, "--json"], environment: relay.environment)
        guard result.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    }

    @Test func theEmbeddedRelayWritesAnOfflineSummaryWithinTwoSeconds() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase())
        defer { relay.stop() }
        let kiosk = try relay.clinicWithDevice("North")
        let id = UUID().uuidString.lowercased()
        try await WebFixture.upload(WebFixture.visitDocument(id: id, start: 1_800_000_000, minutes: 2), token: kiosk.token, url: relay.url)
        let stored = ContinuousClock.now
        var summary: [String: Any]?
        while ContinuousClock.now - stored < .seconds(2) {
            summary = try summaryJSON(relay, id)
            if summary?["state"] as? String == "done" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let elapsed = ContinuousClock.now - stored
        #expect(summary?["state"] as? String == "done", "within 2 s (\(elapsed)): \(String(describing: summary))")
        #expect(summary?["model"] as? String == "offline" && summary?["prompt_version"] as? String == OfflineSummariser.promptVersion)
        #expect((summary?["text"] as? String)?.hasPrefix("Offline summary") == true && summary?["created_at"] is String)
        let plain = try run(relayTool, ["admin", "summary", id], environment: relay.environment)
        #expect(plain.status == 0 && plain.stdout.contains("Offline summary") && plain.stdout.contains("offline template"))
        let jobs = try run(relayTool, ["admin", "jobs"], environment: relay.environment)
        #expect(jobs.status == 0 && jobs.stdout.contains(id) && jobs.stdout.contains("done"))
        let missing = try run(relayTool, ["admin", "summary", UUID().uuidString], environment: relay.environment)
        #expect(missing.status != 0 && missing.stderr.contains("no summary job"))
    }

    @Test func bedrockSummariesAreRetriedAfterThrottlingAndShownToClinicians() async throws {
        let fakes = try VoiceFakes()
        try await fakes.set("summary", "throttle")
        let fixture = try await WebFixture(backend: .sqlite, visits: 2, extra: [
            "HH_RELAY_COOKIE_SECURE": "false", "HH_RELAY_SUMMARISER": "bedrock", "HH_RELAY_BEDROCK_ENDPOINT": fakes.endpoint.origin,
            "AWS_ACCESS_KEY_ID": VoiceFakes.accessKey, "AWS_SECRET_ACCESS_KEY": VoiceFakes.secretKey, "HH_RELAY_SUMMARY_RETRY_SECONDS": "0.2",
        ])
        defer { fixture.relay.stop() }
        // Throttled: retried with backoff, not failed.
        try await Task.sleep(for: .seconds(1.5))
        let throttled = try #require(try await fixture.store.summaryJob(sessionID: fixture.markupVisit))
        #expect(throttled.state != .done && throttled.state != .failed && (throttled.lastError ?? "").contains("throttled"), "\(throttled)")
        try await fakes.set("summary", "ok")
        var summary: StoredSummary?
        for _ in 0..<100 {
            summary = try await fixture.store.summary(sessionID: fixture.markupVisit)
            if summary != nil, try await fixture.store.summaryJob(sessionID: fixture.escalatedVisit)?.state == .done { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(summary?.model == "anthropic.claude-3-haiku-20240307-v1:0" && summary?.promptVersion == BedrockSummariser.prompt.version)
        #expect((summary?.inputTokens ?? 0) > 0 && (summary?.outputTokens ?? 0) > 0)
        // The clinician sees it with the model and prompt that wrote it.
        let nurse = WebClient(fixture.relay.url)
        try await nurse.signIn("nurse@north.example")
        let page = try await nurse.get("/sessions/\(fixture.markupVisit)")
        #expect(page.text.contains("Written by anthropic.claude-3-haiku-20240307-v1:0 with prompt \(BedrockSummariser.prompt.version)"))
        #expect(try await nurse.get("/sessions").text.contains("written"))
        // The cost of each summary is a metric.
        let metrics = try await http("GET", fixture.relay.url + "/metrics")
        let text = String(decoding: metrics.2, as: UTF8.self)
        #expect(text.contains("hh_relay_summary_cost_dollars") && text.contains("hh_relay_summary_jobs_total") && text.contains("hh_relay_summary_queue_depth"))
        await fixture.stop()
    }

    /// SIGTERM while a job is in hand: the job is finished before the relay exits; cut off by a
    /// short shutdown limit, it is released (or its lease runs out) and the next instance does it.
    @Test func aStoppingRelayFinishesOrReleasesItsJob() async throws {
        let fakes = try VoiceFakes()
        try await fakes.set("summary", "slow", delayMilliseconds: 1500)
        let database = try Backend.sqlite.freshDatabase()
        let settings = [
            "HH_RELAY_SUMMARISER": "bedrock", "HH_RELAY_BEDROCK_ENDPOINT": fakes.endpoint.origin, "AWS_ACCESS_KEY_ID": VoiceFakes.accessKey,
            "AWS_SECRET_ACCESS_KEY": VoiceFakes.secretKey, "HH_RELAY_SUMMARY_LEASE_SECONDS": "3",
        ]
        var configuration = RelayConfiguration()
        try configuration.apply(database)
        let store = try RelayStores.open(configuration: configuration, logger: .init(label: "test"))
        defer { Task { await store.close() } }
        func state(_ id: String) async throws -> SummaryJobState? { try await store.summaryJob(sessionID: id)?.state }

        // Finished: SIGTERM while the model is writing.
        let first = try RelayProcess(environment: database, extra: settings)
        let kiosk = try first.clinicWithDevice("North")
        let finished = UUID().uuidString.lowercased()
        try await WebFixture.upload(WebFixture.visitDocument(id: finished, start: 1_800_000_000, minutes: 1), token: kiosk.token, url: first.url)
        while try await state(finished) != .running { try await Task.sleep(for: .milliseconds(20)) }
        first.stop()
        #expect(first.process.terminationStatus == 0)
        #expect(try await state(finished) == .done, "the job in hand was finished before the exit")
        #expect(try await store.summary(sessionID: finished) != nil)

        // Cut off: the shutdown allows 1 s, the model takes 1.5 s.
        let second = try RelayProcess(environment: database, extra: settings.merging(["HH_RELAY_SHUTDOWN_SECONDS": "1"]) { $1 })
        let cut = UUID().uuidString.lowercased()
        try await WebFixture.upload(WebFixture.visitDocument(id: cut, start: 1_800_000_100, minutes: 1), token: kiosk.token, url: second.url)
        while try await state(cut) != .running { try await Task.sleep(for: .milliseconds(20)) }
        second.stop()
        #expect(try await state(cut) != .done)
        let third = try RelayProcess(environment: database, extra: settings)
        defer { third.stop() }
        let deadline = ContinuousClock.now + .seconds(20)
        while try await state(cut) != .done, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await state(cut) == .done, "the next instance did the job the stopped one could not finish")
        #expect(try await store.summary(sessionID: cut) != nil)
    }

    /// Three instances on one Postgres, 300 sessions in a burst: every job done and stored
    /// once, the model called once per job; then the same with one instance killed midway.
    @Test(arguments: [false, true])
    func threeInstancesSummariseEverySessionExactlyOnce(killOne: Bool) async throws {
        let fakes = try VoiceFakes()
        try await fakes.set("summary", "slow", delayMilliseconds: 150)
        // Postgres, with objects in a shared local folder: the AWS keys here are the fake Bedrock's.
        let database = try Backend.postgres.freshDatabase().filter { !$0.key.hasPrefix("HH_RELAY_S3_") }
        let settings = [
            "HH_RELAY_SUMMARISER": "bedrock", "HH_RELAY_BEDROCK_ENDPOINT": fakes.endpoint.origin, "AWS_ACCESS_KEY_ID": VoiceFakes.accessKey,
            "AWS_SECRET_ACCESS_KEY": VoiceFakes.secretKey, "HH_RELAY_SUMMARY_LEASE_SECONDS": "3", "HH_RELAY_RATE_LIMIT": "10000", "HH_RELAY_RATE_BURST": "10000",
        ]
        let relays = try (0..<3).map { _ in try RelayProcess(environment: database, extra: settings) }
        defer { for relay in relays { relay.stop() } }
        let kiosk = try relays[0].clinicWithDevice("North")
        let ids = (0..<300).map { _ in UUID().uuidString.lowercased() }
        let urls = relays.map(\.url), token = kiosk.token
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, id) in ids.enumerated() {
                group.addTask {
                    try await WebFixture.upload(WebFixture.visitDocument(id: id, start: 1_800_000_000 + Double(index), minutes: 1), token: token, url: urls[index % 3])
                }
                if index % 32 == 31 { try await group.next() }
            }
            try await group.waitForAll()
        }
        let url = database["HH_RELAY_DATABASE_URL"]!
        func count(_ sql: String) throws -> Int { Int(try run("/usr/bin/psql", [url, "-tAc", sql]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }
        if killOne {
            while try count("SELECT COUNT(*) FROM summary_jobs WHERE state = 'done'") < 90 { try await Task.sleep(for: .milliseconds(50)) }
            kill(relays[2].process.processIdentifier, SIGKILL)
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while try count("SELECT COUNT(*) FROM summary_jobs WHERE state = 'done'") < 300, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(try count("SELECT COUNT(*) FROM summary_jobs WHERE state = 'done'") == 300, "every job done")
        #expect(try count("SELECT COUNT(*) FROM summaries") == 300, "every summary stored once")
        #expect(try count("SELECT COUNT(DISTINCT session_id) FROM summaries") == 300)
        let calls = try await fakes.calls("summary").accepted
        let retaken = try count("SELECT COUNT(*) FROM summary_jobs WHERE attempts > 1")
        if killOne {
            // The only extra calls: jobs the killed instance had called Bedrock for but not committed
            // (at most its two workers' jobs), each taken over after its lease.
            print("killed one instance of three midway: \(calls - 300) extra model calls; \(retaken) jobs taken over after their lease")
            #expect(calls - 300 <= 2 && calls - 300 <= retaken, "extra calls \(calls - 300), jobs taken over \(retaken)")
        } else {
            #expect(calls == 300 && retaken == 0, "one call per job: \(calls)")
        }
    }
}
