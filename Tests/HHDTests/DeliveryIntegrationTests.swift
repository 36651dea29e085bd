import EdgeStore
import Foundation
import HHProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension DaemonTests {
    /// hhd end to end: simulated visits from a file, a local relay, the real store.
    @Suite struct DeliveryIntegrationTests {
        @Test func aRelayThatIsDownForAWhileGetsEverySessionExactlyOnceInOrder() throws {
            let directory = temporaryDirectory("down")
            let relay = try TestRelay()
            try relay.stop()
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory), "--state-dir", directory + "/state", "--video", VisitVideo.path,
                 "--audio", "", "--relay", relay.url, "--pace", "fast"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            Thread.sleep(forTimeInterval: 4)
            #expect(daemon.process.isRunning, "with the relay down the daemon keeps the sessions and waits")
            #expect(relay.uploads.isEmpty)
            try relay.start()
            let status = daemon.waitBlocking(timeout: 60)
            #expect(status == 0, "daemon log:\n\(daemon.log)")

            let expected = VisitVideo.presence.count
            #expect(relay.storedOrder.count == expected, "one stored session per visit; log:\n\(daemon.log)")
            #expect(relay.uploads.allSatisfy { $0.status == 201 || $0.status == 200 }, "no conflicting replay")
            let documents = try relay.storedOrder.map { try WireJSON.decoder().decode(SessionDocument.self, from: relay.stored[$0]!) }
            #expect(documents.map(\.startedAt) == documents.map(\.startedAt).sorted(), "delivered in the order they happened")
            for (document, visit) in zip(documents, VisitVideo.presence) {
                let duration = document.endedAt.timeIntervalSince(document.startedAt)
                #expect(abs(duration - (visit.upperBound - visit.lowerBound)) <= 2, "session length follows the visit")
                let median = try #require(document.summary.heartRateMedianBpm)
                #expect(abs(median - VisitVideo.heartRate) <= 3, "median heart rate \(median)")
            }
            let store = try EdgeStore(path: directory + "/state/hhd.sqlite")
            let statistics = try store.outboxStatistics()
            #expect(statistics.depth == 0 && statistics.delivered == expected)
        }

        @Test func killingTheDaemonDuringUploadsLosesAndDuplicatesNothing() async throws {
            let directory = temporaryDirectory("kill")
            let state = directory + "/state"
            let configuration = writeTestConfiguration(in: directory)
            // Record three runs of visits with no relay: twelve sessions committed to the outbox.
            for run in 0..<3 {
                let recording = try DaemonProcess(
                    ["--config", configuration, "--state-dir", state, "--video", VisitVideo.path, "--audio", "", "--pace", "fast"],
                    log: directory + "/record-\(run).log")
                #expect(await recording.wait(timeout: 60) == 0, "\(recording.log)")
            }
            let committed = try EdgeStore(path: state + "/hhd.sqlite").outboxOrder()
            #expect(committed.count == 3 * VisitVideo.presence.count)

            // Deliver them to a slow relay, killing the daemon again and again in the middle.
            let relay = try TestRelay()
            relay.slow(0.4)
            var kills = 0
            var finished = false
            var generator = SystemRandomNumberGenerator()
            for attempt in 0..<60 where !finished {
                let daemon = try DaemonProcess(
                    ["--config", configuration, "--state-dir", state, "--video", "", "--audio", "", "--relay", relay.url, "--pace", "fast"],
                    log: directory + "/deliver-\(attempt).log")
                try await Task.sleep(for: .seconds(Double.random(in: 0.05...0.6, using: &generator)))
                if daemon.process.isRunning {
                    daemon.send(SIGKILL)
                    _ = daemon.waitBlocking(timeout: 10)
                    kills += 1
                } else {
                    #expect(daemon.process.terminationStatus == 0, "\(daemon.log)")
                    finished = true
                }
            }
            if !finished {
                let last = try DaemonProcess(
                    ["--config", configuration, "--state-dir", state, "--video", "", "--audio", "", "--relay", relay.url, "--pace", "fast"],
                    log: directory + "/deliver-last.log")
                #expect(await last.wait(timeout: 60) == 0, "\(last.log)")
            }
            #expect(kills >= 5, "the daemon was killed during uploads")
            #expect(Set(relay.storedOrder) == Set(committed), "every committed session arrived")
            #expect(relay.storedOrder.count == committed.count, "each stored once")
            #expect(relay.storedOrder == committed, "in order")
            #expect(relay.uploads.allSatisfy { $0.status == 201 || $0.status == 200 }, "a replay is always the same document")
            let left = try EdgeStore(path: state + "/hhd.sqlite").outboxStatistics()
            #expect(left.depth == 0 && left.delivered == committed.count)
        }
    }
}
