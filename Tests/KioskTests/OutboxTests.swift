import EdgeStore
import Foundation
import Kiosk
import KioskControl
import Logging
import ServiceLifecycle
import Synchronization
import Testing

private func record(_ id: String, notBefore: Date? = nil, attempts: Int = 0) -> OutboxRecord {
    OutboxRecord(sequence: 1, id: id, document: Data("{}".utf8), attempts: attempts, notBefore: notBefore)
}

@Suite struct DeliveryMachineTests {
    let wall = Date(timeIntervalSince1970: 1_800_000_000)
    let now = ContinuousClock.now
    var policy: RetryPolicy {
        var policy = RetryPolicy()
        policy.initialDelay = 1
        policy.maximumDelay = 300
        return policy
    }

    @Test func anEmptyOutboxOrNoRelayWaitsForTheDoorbell() {
        var machine = DeliveryMachine(policy: policy, drainTime: nil)
        #expect(machine.next(head: .success(nil), relayConfigured: true, shuttingDown: false, wallNow: wall, now: now) == .probe, "the relay is asked first")
        #expect(machine.next(head: .success(nil), relayConfigured: true, shuttingDown: false, wallNow: wall, now: now) == .wait(DeliveryMachine.idleWait, nextAttempt: nil))
        #expect(machine.next(head: .success(record("a")), relayConfigured: false, shuttingDown: false, wallNow: wall, now: now) == .wait(DeliveryMachine.idleWait, nextAttempt: nil))
        struct Unreadable: Error {}
        #expect(machine.next(head: .failure(Unreadable()), relayConfigured: true, shuttingDown: false, wallNow: wall, now: now) == .wait(DeliveryMachine.storeRetryWait, nextAttempt: nil))
    }

    @Test func anIdleKioskAsksTheRelayAtOnceThenEveryProbeInterval() {
        var machine = DeliveryMachine(policy: policy, drainTime: nil)
        #expect(machine.next(head: .success(nil), relayConfigured: false, shuttingDown: false, wallNow: wall, now: now) != .probe, "no relay, nothing to ask")
        #expect(machine.next(head: .success(nil), relayConfigured: true, shuttingDown: false, wallNow: wall, now: now) == .probe)
        let soon = now + DeliveryMachine.probeInterval - .seconds(1)
        #expect(machine.next(head: .success(nil), relayConfigured: true, shuttingDown: false, wallNow: wall, now: soon) != .probe)
        let later = now + DeliveryMachine.probeInterval
        #expect(machine.next(head: .success(nil), relayConfigured: true, shuttingDown: false, wallNow: wall, now: later) == .probe)
        var stopping = DeliveryMachine(policy: policy, drainTime: .seconds(30))
        #expect(stopping.next(head: .success(nil), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now) == .stop, "no probe while draining")
    }

    @Test func aDueHeadIsUploadedAndAnAnsweredOneDelivered() {
        var machine = DeliveryMachine(policy: policy, drainTime: nil)
        let head = record("a", notBefore: wall.addingTimeInterval(-1))
        #expect(machine.next(head: .success(head), relayConfigured: true, shuttingDown: false, wallNow: wall, now: now) == .upload(head))
        #expect(machine.settle(head, result: .answered(status: 201, retryAfter: nil, message: ""), wallNow: wall, random: 0.5) == .delivered(id: "a", at: wall))
        #expect(machine.settle(head, result: .answered(status: 200, retryAfter: nil, message: ""), wallNow: wall, random: 0.5) == .delivered(id: "a", at: wall), "already stored: delivered too")
    }

    @Test func failuresBackOffExponentiallyAndASuccessResetsTheBackoff() {
        var machine = DeliveryMachine(policy: policy, drainTime: nil)
        let head = record("a")
        var delays: [Double] = []
        for _ in 0..<5 {
            guard case .failed(_, let reason, let notBefore, let delay) = machine.settle(head, result: .unreachable("connection refused"), wallNow: wall, random: 0) else {
                Issue.record("an unreachable relay is retried")
                return
            }
            #expect(reason.contains("connection refused") && notBefore == wall.addingTimeInterval(delay))
            delays.append(delay)
        }
        #expect(delays == [0.5, 1, 2, 4, 8])
        #expect(machine.consecutiveFailures == 5)
        _ = machine.settle(head, result: .answered(status: 201, retryAfter: nil, message: ""), wallNow: wall, random: 0)
        guard case .failed(_, _, _, let delay) = machine.settle(head, result: .answered(status: 500, retryAfter: nil, message: "boom"), wallNow: wall, random: 0) else {
            Issue.record("a 500 is retried")
            return
        }
        #expect(delay == 0.5)
    }

    @Test func aHeadNotYetDueIsWaitedForOnTheMonotonicClock() {
        var machine = DeliveryMachine(policy: policy, drainTime: nil)
        let head = record("a")
        guard case .failed(_, _, let notBefore, let delay) = machine.settle(head, result: .answered(status: 503, retryAfter: "120", message: ""), wallNow: wall, random: 0.5) else {
            Issue.record("a 503 is retried")
            return
        }
        #expect(delay == 120, "the relay's Retry-After")
        let later = record("a", notBefore: notBefore, attempts: 1)
        #expect(machine.next(head: .success(later), relayConfigured: true, shuttingDown: false, wallNow: wall.addingTimeInterval(20), now: now)
            == .wait(.seconds(100), nextAttempt: notBefore))
        #expect(machine.next(head: .success(later), relayConfigured: true, shuttingDown: false, wallNow: notBefore, now: now) == .upload(later))
    }

    @Test func aSessionTheRelayRefusesForGoodIsSetAside() {
        var machine = DeliveryMachine(policy: policy, drainTime: nil)
        #expect(machine.settle(record("a"), result: .answered(status: 409, retryAfter: nil, message: "different document"), wallNow: wall, random: 0)
            == .rejected(id: "a", reason: "HTTP 409: different document"))
        #expect(machine.consecutiveFailures == 0)
    }

    @Test func shutdownStopsAtOnceWithoutADrainTime() {
        var machine = DeliveryMachine(policy: policy, drainTime: nil)
        #expect(machine.next(head: .success(record("a")), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now) == .stop)
    }

    @Test func aDrainDeliversWhatIsDueUntilItsDeadlineThenStops() {
        var machine = DeliveryMachine(policy: policy, drainTime: .seconds(30))
        let due = record("a")
        #expect(machine.next(head: .success(due), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now) == .upload(due))
        let soon = record("b", notBefore: wall.addingTimeInterval(10))
        #expect(machine.next(head: .success(soon), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now + .seconds(1))
            == .wait(.seconds(10), nextAttempt: soon.notBefore))
        let tooLate = record("b", notBefore: wall.addingTimeInterval(40))
        #expect(machine.next(head: .success(tooLate), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now + .seconds(1)) == .stop,
                "due after the drain deadline")
        #expect(machine.next(head: .success(due), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now + .seconds(31)) == .stop,
                "the deadline counts from when shutdown was first seen")
        #expect(machine.next(head: .success(nil), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now + .seconds(2)) == .stop, "empty: done")
        struct Unreadable: Error {}
        #expect(machine.next(head: .failure(Unreadable()), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now + .seconds(2))
            == .wait(DeliveryMachine.storeRetryWait, nextAttempt: nil), "a store error is retried within the drain time")
        #expect(machine.next(head: .failure(Unreadable()), relayConfigured: true, shuttingDown: true, wallNow: wall, now: now + .seconds(27)) == .stop)
    }
}

/// The waits are an hour long: a bound of ten minutes shows they ended early, with room for
/// the CPU-bound suites that share the cooperative pool when everything runs in parallel.
@Suite struct DoorbellTests {
    @Test func aRingBeforeTheWaitIsKeptAndARingWakesAWaiter() async {
        let bell = Doorbell()
        bell.ring()
        let start = ContinuousClock.now
        await bell.wait(for: .seconds(3600))
        Task {
            try? await Task.sleep(for: .milliseconds(20))
            bell.ring()
        }
        await bell.wait(for: .seconds(3600))
        #expect(ContinuousClock.now - start < .seconds(600))
    }

    @Test func aWaitEndsWhenItsTimeIsUpAndALaterRingIsKept() async {
        let bell = Doorbell()
        await bell.wait(for: .milliseconds(10))
        bell.ring()
        let start = ContinuousClock.now
        await bell.wait(for: .seconds(3600))
        #expect(ContinuousClock.now - start < .seconds(600))
    }

    @Test func aCancelledWaitReturnsAtOnceAndLeavesNoWaiterBehind() async {
        let bell = Doorbell()
        let start = ContinuousClock.now
        let waiting = Task { await bell.wait(for: .seconds(3600)) }
        try? await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        await waiting.value
        #expect(ContinuousClock.now - start < .seconds(600))
        // The next ring is for the next waiter, not swallowed by the cancelled one.
        bell.ring()
        await bell.wait(for: .seconds(3600))
    }
}

/// A relay that answers from a script and counts what it was sent; its health check answers
/// `health`.
final class ScriptedRelay: RelayUploading {
    private let state: Mutex<(answers: [UploadResult], sent: [String])>
    private let health: UploadResult
    init(_ answers: [UploadResult], health: UploadResult = .answered(status: 200, retryAfter: nil, message: "")) {
        state = Mutex((answers, []))
        self.health = health
    }
    func probe() async -> UploadResult { health }
    var sent: [String] { state.withLock { $0.sent } }
    func upload(sessionID: String, document: Data) async -> UploadResult {
        state.withLock { state in
            state.sent.append(sessionID)
            return state.answers.isEmpty ? .answered(status: 201, retryAfter: nil, message: "") : state.answers.removeFirst()
        }
    }
}

private struct FailingService: Service {
    struct BindFailed: Error {}
    func run() async throws {
        try await Task.sleep(for: .milliseconds(50))
        throw BindFailed()
    }
}

@Suite struct OutboxServiceTests {
    static func store(sessions: [String]) throws -> (EdgeStore, String) {
        let directory = NSTemporaryDirectory() + "outbox-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try EdgeStore(path: directory + "/kiosk.sqlite")
        for id in sessions {
            try store.openSession(id: id, startedAt: Date())
            try store.closeSession(id: id, endedAt: Date(), document: Data("{\"id\":\"\(id)\"}".utf8))
        }
        return (store, directory)
    }

    static func service(_ store: EdgeStore, _ relay: ScriptedRelay, doorbell: Doorbell = Doorbell(), drainTime: Duration? = nil) -> OutboxService {
        var policy = RetryPolicy()
        policy.initialDelay = 0.02
        policy.maximumDelay = 0.1
        var logger = Logger(label: "outbox-test")
        logger.logLevel = .critical
        return OutboxService(store: store, relay: relay, policy: policy, board: StatusBoard(.starting(configuration: KioskConfiguration(), paths: DaemonPaths(configuration: KioskConfiguration()), enrollment: nil, storeQuota: 1 << 30)), logger: logger, doorbell: doorbell, drainTime: drainTime)
    }

    /// Waits until `condition` holds, for at most 600 s: the parallel run's waiting tests get
    /// their steps late when tests that compute share their process (the suites here took about
    /// 480 s beside the vitals accuracy tests, once more than 600); `make test` runs those in a
    /// process of their own (scripts/run-tests.sh), and these then take about a minute.
    static func eventually(_ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(600)
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test func sessionsAreDeliveredInOrderThroughFailuresAndRefusals() async throws {
        let (store, directory) = try Self.store(sessions: ["s1", "s2", "s3"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let relay = ScriptedRelay([
            .unreachable("connection refused"), .answered(status: 503, retryAfter: "0", message: ""),
            .answered(status: 201, retryAfter: nil, message: ""), .answered(status: 409, retryAfter: nil, message: "conflict"),
        ])
        let running = Task { try await Self.service(store, relay).run() }
        try await Self.eventually { try store.outboxStatistics().depth == 0 }
        running.cancel()
        try await running.value
        #expect(relay.sent == ["s1", "s1", "s1", "s2", "s3"])
        let statistics = try store.outboxStatistics()
        #expect(statistics.delivered == 2 && statistics.rejected == 1)
    }

    @Test func aWrongRelayURLShowsInTheStatusBeforeAnySession() async throws {
        let (store, directory) = try Self.store(sessions: [])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (health, expected) in [
            (UploadResult.unreachable("connection refused"), "unreachable: connection refused"),
            (.answered(status: 404, retryAfter: nil, message: ""), "GET /health answered HTTP 404: is relay.url an hh-relay?"),
        ] {
            let board = StatusBoard(.starting(configuration: KioskConfiguration(), paths: DaemonPaths(configuration: KioskConfiguration()), enrollment: nil, storeQuota: 1 << 30))
            var logger = Logger(label: "outbox-test")
            logger.logLevel = .critical
            let service = OutboxService(
                store: store, relay: ScriptedRelay([], health: health), policy: RetryPolicy(), board: board, logger: logger,
                doorbell: Doorbell(), drainTime: nil)
            let running = Task { try await service.run() }
            try await Self.eventually { board.snapshot.relay.lastError != nil }
            running.cancel()
            try await running.value
            #expect(board.snapshot.relay.lastError == expected)
            #expect(board.snapshot.relay.reachable == false)
        }
    }

    @Test func aFailingSiblingServiceStopsTheOutboxAtOnceEvenDuringALongRetryAfter() async throws {
        let (store, directory) = try Self.store(sessions: ["s1"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let relay = ScriptedRelay([.answered(status: 429, retryAfter: "3600", message: "")])
        var logger = Logger(label: "group")
        logger.logLevel = .critical
        let group = ServiceGroup(configuration: .init(services: [Self.service(store, relay), FailingService()], logger: logger))
        let start = ContinuousClock.now
        await #expect(throws: FailingService.BindFailed.self) { try await group.run() }
        #expect(ContinuousClock.now - start < .seconds(600), "not the hour the relay asked for")
        #expect(relay.sent == ["s1"])
        #expect(try store.outboxStatistics().depth == 1, "kept for later")
    }

    @Test func gracefulShutdownDrainsWhatIsDueWithADrainTime() async throws {
        let (store, directory) = try Self.store(sessions: ["s1", "s2"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let relay = ScriptedRelay([])
        var logger = Logger(label: "group")
        logger.logLevel = .critical
        let group = ServiceGroup(configuration: .init(
            services: [Self.service(store, relay, drainTime: .seconds(30))], gracefulShutdownSignals: [], logger: logger))
        await group.triggerGracefulShutdown()
        try await group.run()
        #expect(relay.sent == ["s1", "s2"])
        #expect(try store.outboxStatistics().depth == 0)
    }
}
