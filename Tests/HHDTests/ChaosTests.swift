import EdgeStore
import Foundation
import HHProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension DaemonTests {
    /// The kiosk and the relay (on Postgres) under bad luck and abuse at once: either side
    /// killed, the kiosk's disk full, its descriptors short and its control socket flooded, the
    /// relay's data folder removed. Then, session by session: everything the kiosk committed is
    /// stored by the relay exactly once, or still waits in the kiosk's outbox; nothing was set
    /// aside or evicted.
    @Suite struct ChaosTests {
        @Test func everyCommittedSessionIsStoredOnceOrStillWaiting() async throws {
            let server = try #require(ProcessInfo.processInfo.environment["HH_TEST_POSTGRES_URL"], "run with scripts/with-postgres.sh (make test does)")
            let directory = temporaryDirectory("chaos")
            let database = "chaos_\(UUID().uuidString.prefix(8).lowercased())"
            #expect(runTool("/usr/bin/psql", [server, "-q", "-c", "CREATE DATABASE \(database)"]).status == 0)
            let databaseURL = server.replacingOccurrences(of: "/postgres?", with: "/\(database)?")
            let environment = ["HH_RELAY_DATABASE_URL": databaseURL, "HH_RELAY_DATA_DIR": directory + "/relay"]
            let clinic = try runProduct("hh-relay", ["admin", "add-clinic", "North"], environment: environment)
            let clinicID = try #require(clinic.stdout.split(separator: "\n").last.map(String.init), "\(clinic.stderr)")
            let device = try runProduct("hh-relay", ["admin", "add-device", "--clinic", clinicID, "--name", "Lobby"], environment: environment)
            let token = try #require(device.stdout.split(separator: "\n").last.map(String.init))
            let relay = ChaosRelay(environment: environment, log: directory + "/relay.log")
            defer { relay.kill9() }

            // The kiosk's state on a small disk of its own.
            let state = directory + "/state"
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            #expect(runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", state]).status == 0, "a small disk for the kiosk")
            defer { _ = runTool("/bin/umount", ["-l", state]) }
            let configuration = writeTestConfiguration(in: directory, token: token, extra: "")
            let socket = directory + "/control.sock"
            func kiosk(_ round: String, video: String = VisitVideo.path, pace: String = "fast", launcher: [String] = []) throws -> DaemonProcess {
                try DaemonProcess(
                    ["--config", configuration, "--state-dir", state, "--socket", socket, "--video", video, "--audio", "",
                     "--relay", relay.url, "--pace", pace],
                    log: directory + "/hhd-\(round).log", launcher: launcher)
            }

            // 1. The relay is killed while the kiosk delivers, and comes back.
            try relay.start()
            var daemon = try kiosk("relay-killed")
            try await Task.sleep(for: .seconds(0.3))
            relay.kill9()
            try await Task.sleep(for: .seconds(2))
            try relay.start()
            #expect(await daemon.wait(timeout: 120) != nil, "\(daemon.log)")

            // 2. The kiosk is killed mid-visit, twice; the next start recovers what it had.
            for attempt in 0..<2 {
                daemon = try kiosk("kiosk-killed-\(attempt)", pace: "realtime")
                try await Task.sleep(for: .seconds(3.0 + 2 * Double(attempt)))
                daemon.send(SIGKILL)
                _ = daemon.waitBlocking(timeout: 10)
            }

            // 3. Few descriptors, a flood of idle control clients, and the relay's data folder
            // removed under it (503 until it is restarted on a fresh folder).
            daemon = try kiosk("descriptors", launcher: ["/usr/bin/prlimit", "--nofile=96:96", "--"])
            _ = eventually(timeout: 10) { FileManager.default.fileExists(atPath: socket) }
            var idle: [Int32] = []
            for _ in 0..<100 { let descriptor = connectUnixSocket(socket); if descriptor >= 0 { idle.append(descriptor) } }
            try? FileManager.default.removeItem(atPath: directory + "/relay")
            try await Task.sleep(for: .seconds(2))
            relay.stop()
            try relay.start()
            #expect(await daemon.wait(timeout: 120) != nil, "\(daemon.log)")
            idle.forEach { close($0) }

            // 4. The kiosk's disk fills while it records, then space comes back; then it stops.
            daemon = try kiosk("disk-full", pace: "realtime")
            _ = eventually(timeout: 10) { FileManager.default.fileExists(atPath: socket) }
            try await Task.sleep(for: .seconds(2))
            let filler = state + "/filler"
            _ = runTool("/usr/bin/fallocate", ["-l", "\(freeBytes(state) - 4096)", filler])
            try await Task.sleep(for: .seconds(4))
            try? FileManager.default.removeItem(atPath: filler)
            try await Task.sleep(for: .seconds(4))
            daemon.send(SIGTERM)
            #expect(await daemon.wait(timeout: 60) == 0, "\(daemon.log)")
            #expect(daemon.log.contains("could not store"), "the disk really filled:\n\(daemon.log.suffix(2000))")

            // Calm: one last start with no input delivers whatever still waits.
            daemon = try kiosk("drain", video: "")
            #expect(await daemon.wait(timeout: 120) == 0, "\(daemon.log)")

            // Session by session.
            let store = try EdgeStore(path: state + "/hhd.sqlite")
            let sessions = try store.recentSessions(limit: 10_000)
            let statistics = try store.outboxStatistics()
            let delivered = Set(sessions.filter { $0.state == .delivered }.map(\.id))
            let waiting = Set(sessions.filter { $0.state == .pending || $0.state == .open }.map(\.id))
            #expect(sessions.filter { $0.state == .rejected }.isEmpty, "nothing set aside: \(sessions.filter { $0.state == .rejected })")
            #expect(statistics.evicted == 0, "nothing evicted")
            #expect(delivered.count >= 8, "enough sessions to mean something: \(delivered.count) delivered, \(waiting.count) waiting")
            let stored = runTool("/usr/bin/psql", [databaseURL, "-At", "-c", "SELECT id FROM sessions"]).stdout
                .split(separator: "\n").map(String.init)
            #expect(stored.count == Set(stored).count, "each stored once")
            #expect(Set(stored) == delivered, "the relay holds exactly what the kiosk saw acknowledged: missing \(delivered.subtracting(stored)), extra \(Set(stored).subtracting(delivered))")
            #expect(waiting.isEmpty, "after the calm run nothing waits: \(waiting)")
        }
    }
}

/// An `hh-relay serve` on a fixed port that the chaos test starts, kills and restarts.
private final class ChaosRelay {
    let environment: [String: String]
    let port = freePort()
    let log: String
    private var process: Process?

    init(environment: [String: String], log: String) {
        self.environment = environment
        self.log = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func start() throws {
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent("hh-relay")
        process.arguments = ["serve", "--port", String(port)]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        _ = eventually(timeout: 20) { canConnect(port: port) }
    }

    func kill9() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

/// Runs a system tool to its end.
@discardableResult
private func runTool(_ path: String, _ arguments: [String]) -> (status: Int32, stdout: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return (-1, "") }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Free bytes on the file system holding `path`.
private func freeBytes(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfFileSystem(forPath: path))?[.systemFreeSize] as? NSNumber)?.intValue ?? 0
}
