import EdgeStore
import Foundation
import HHProtocol
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every 50 ms for up to `timeout` seconds.
func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return try condition()
}

/// `hhctl status --json` as a dictionary (nil when it fails).
func statusJSON(socket: String) -> [String: Any]? {
    guard let result = try? runProduct("hhctl", ["status", "--json", "--socket", socket]), result.status == 0 else { return nil }
    return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any]
}

/// The value at a dotted key path of a JSON dictionary.
func value(_ json: [String: Any]?, _ path: String) -> Any? {
    var current: Any? = json
    for key in path.split(separator: ".") { current = (current as? [String: Any])?[String(key)] }
    return current
}

extension DaemonTests {
    @Suite struct ControlIntegrationTests {
        @Test func statusShowsTheLiveDaemonAndSIGTERMClosesTheSessionAndExitsCleanly() async throws {
            let directory = temporaryDirectory("status")
            let relay = try TestRelay()
            let socket = directory + "/control.sock"
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory), "--state-dir", directory + "/state", "--socket", socket,
                 "--video", VisitVideo.path, "--audio", "", "--relay", relay.url, "--pace", "realtime"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            #expect(eventually(timeout: 10) { FileManager.default.fileExists(atPath: socket) }, "\(daemon.log)")
            var info = stat()
            #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o660, "socket mode 0660")

            // After a full analysis window the live heart rate is there.
            var status: [String: Any]?
            #expect(eventually(timeout: 20) {
                status = statusJSON(socket: socket)
                return value(status, "heart_rate.bpm") is Double
            }, "no live heart rate; log:\n\(daemon.log)")
            for key in ["camera.state", "microphone.state", "heart_rate.bpm", "heart_rate.snr_db", "outbox.depth", "relay.url", "storage.quota_bytes", "version", "uptime_s"] {
                #expect(value(status, key) != nil, "status has \(key)")
            }
            #expect(value(status, "camera.state") as? String == "running")
            #expect(value(status, "camera.format") as? String == "i420")
            #expect(value(status, "microphone.state") as? String == "disabled")
            #expect(abs((value(status, "heart_rate.bpm") as? Double ?? 0) - VisitVideo.heartRate) < 6)
            #expect(value(status, "session.id") is String, "a patient is in front of the camera")
            // Keys whose value may be unknown are still present (as null), so scripts can rely on them.
            let outbox = value(status, "outbox") as? [String: Any]
            #expect(outbox?.keys.contains("oldest_age_s") == true)
            let relayStatus = value(status, "relay") as? [String: Any]
            #expect(relayStatus?.keys.contains("reachable") == true)
            let conversation = value(status, "conversation") as? [String: Any]
            for key in ["state", "turns", "last_turn_latency_ms", "echo_return_loss_db"] {
                #expect(conversation?.keys.contains(key) == true, "conversation.\(key)")
            }

            let readable = try runProduct("hhctl", ["status", "--socket", socket])
            #expect(readable.status == 0)
            #expect(readable.stdout.contains("camera        running, i420 320x240"))
            #expect(readable.stdout.contains("heart rate    "))
            #expect(readable.stdout.contains("conversation  "))
            #expect(try runProduct("hhctl", ["sessions", "--socket", socket]).stdout.contains("open"))
            #expect(try runProduct("hhctl", ["flush", "--socket", socket]).status == 0)

            try await Task.sleep(for: .seconds(3))
            daemon.send(SIGTERM)
            let started = Date()
            #expect(await daemon.wait(timeout: 20) == 0, "\(daemon.log)")
            #expect(Date().timeIntervalSince(started) < 10, "SIGTERM exits well within the stop timeout")
            #expect(!FileManager.default.fileExists(atPath: socket), "socket removed")
            // The session in progress was closed and delivered before exiting.
            let documents = try relay.storedOrder.map { try WireJSON.decoder().decode(SessionDocument.self, from: relay.stored[$0]!) }
            #expect(documents.count == 1)
            #expect(documents.first?.endReason == .shutdown)
            #expect((documents.first?.heartRate.count ?? 0) >= 3)
        }

        @Test func aSessionCutShortByKill9IsRecoveredAndDeliveredAsInterrupted() throws {
            let visit = try InterruptedVisit("interrupted", killWhen: { store in
                try store.openSessions().first.map { try store.measurements(session: $0.id).count } ?? 0 >= 4
            })
            #expect(visit.recoveryLog.contains("closed session left open by the previous run"))
            #expect(visit.documents.count == 1)
            #expect(visit.documents.first?.endReason == .interrupted)
            #expect((visit.documents.first?.heartRate.compactMap(\.bpm).count ?? 0) >= 4, "the seconds committed before the kill are all there")
        }

        @Test func aRefusedSessionIsSetAsideAndRetryAfterIsHonoured() async throws {
            let directory = temporaryDirectory("poison")
            let relay = try TestRelay()
            let order = Mutex<[String]>([])
            relay.behave { id, attempt in
                let index = order.withLock { order -> Int in
                    if !order.contains(id) { order.append(id) }
                    return order.firstIndex(of: id)!
                }
                if index == 0 && attempt == 1 { return .status(503, retryAfter: "2") }
                if index == 1 { return .status(422, retryAfter: nil) }
                return .normal
            }
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory), "--state-dir", directory + "/state", "--video", VisitVideo.path,
                 "--audio", "", "--relay", relay.url, "--pace", "fast"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            #expect(await daemon.wait(timeout: 60) == 0, "\(daemon.log)")
            let ids = order.withLock { $0 }
            #expect(ids.count == VisitVideo.presence.count)
            let first = relay.uploads.filter { $0.id == ids[0] }
            #expect(first.count == 2)
            if first.count == 2 { #expect(first[1].time.timeIntervalSince(first[0].time) >= 1.9, "Retry-After: 2 honoured") }
            #expect(relay.uploads.filter { $0.id == ids[1] }.count == 1, "a refused session is not retried")
            #expect(relay.storedOrder == [ids[0]] + ids[2...], "the others are delivered, in order")
            let listing = try EdgeStore(path: directory + "/state/hhd.sqlite").recentSessions(limit: 10)
            let rejected = listing.first { $0.id == ids[1] }
            #expect(rejected?.state == .rejected)
            #expect(rejected?.detail?.contains("HTTP 422") == true)
        }

        @Test func aCameraThatIsMissingIsReportedAndPickedUpWhenItAppears() async throws {
            let directory = temporaryDirectory("missing")
            let socket = directory + "/control.sock"
            let camera = directory + "/camera.y4m"
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory), "--state-dir", directory + "/state", "--socket", socket,
                 "--video", camera, "--audio", "", "--pace", "realtime"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            var status: [String: Any]?
            #expect(eventually(timeout: 10) {
                status = statusJSON(socket: socket)
                return value(status, "camera.state") as? String == "missing"
            }, "\(daemon.log)")
            #expect((value(status, "camera.last_error") as? String)?.contains(camera) == true)
            #expect(daemon.process.isRunning, "a missing camera does not stop the daemon")
            try FileManager.default.createSymbolicLink(atPath: camera, withDestinationPath: VisitVideo.path)
            #expect(eventually(timeout: 15) { value(statusJSON(socket: socket), "camera.state") as? String == "running" }, "\(daemon.log)")
            daemon.send(SIGTERM)
            #expect(await daemon.wait(timeout: 20) == 0)
        }

        @Test func aControlSocketThatCannotBeBoundStopsTheWholeDaemonAtOnce() throws {
            // Every service must end when the group is cancelled: capture threads, the recorder,
            // the outbox (however long its wait) and the socket; not wait for a signal.
            let directory = temporaryDirectory("nobind")
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory), "--state-dir", directory + "/state",
                 "--socket", directory + "/no-such-folder/control.sock", "--video", VisitVideo.path, "--audio", "", "--pace", "realtime"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            let status = daemon.waitBlocking(timeout: 20)
            #expect(status != nil && status != 0, "hhd stopped with an error: \(daemon.log)")
            let failure = daemon.log.split(separator: "\n").first { $0.contains("hhd failed") }
            #expect(failure?.contains("cannot listen on the control socket \(directory)/no-such-folder/control.sock") == true, "\(daemon.log)")
        }

        @Test func theControlSocketRefusesBadRequestsClearlyAndKeepsServing() async throws {
            let directory = temporaryDirectory("protocol")
            let socket = directory + "/control.sock"
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory), "--state-dir", directory + "/state", "--socket", socket,
                 "--video", VisitVideo.path, "--audio", "", "--pace", "realtime"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            #expect(eventually(timeout: 10) { FileManager.default.fileExists(atPath: socket) }, "\(daemon.log)")
            #expect(rawExchange(socket, "this is not json\n").contains(#""ok":false"#))
            #expect(rawExchange(socket, "this is not json\n").contains("malformed request"))
            #expect(rawExchange(socket, #"{"version":2,"command":"status"}"# + "\n").contains("protocol version 2 not supported"))
            #expect(rawExchange(socket, #"{"version":1,"command":"reboot"}"# + "\n").contains(#"unknown command \"reboot\""#))
            #expect(rawExchange(socket, #"{"version":1}"# + "\n").contains("missing key"))
            #expect(rawExchange(socket, String(repeating: "x", count: 70_000)).contains("request too long"))
            #expect(rawExchange(socket, #"{"version":1,"command":"status"}"# + "\n", halfClose: true).contains(#""ok":true"#),
                    "a client that shuts its side after the request still gets the answer")
            let two = #"{"version":1,"command":"status"}"# + "\n" + #"{"version":1,"command":"flush"}"# + "\n"
            let answer = rawExchange(socket, two)
            #expect(answer.contains(#""ok":true"#) && !answer.contains("flushed"), "one request a connection: the second line is ignored")
            // And the daemon still answers.
            #expect(value(statusJSON(socket: socket), "camera.device") as? String == VisitVideo.path)
            daemon.send(SIGTERM)
            #expect(await daemon.wait(timeout: 20) == 0)
        }

        @Test func hhctlSaysClearlyWhenTheDaemonIsNotRunning() throws {
            let result = try runProduct("hhctl", ["status", "--socket", "/tmp/no-such-dir-\(UUID())/hhd.sock"])
            #expect(result.status == 3)
            #expect(result.stderr.contains("hhd is not running"))
            let fromEnvironment = try runProduct("hhctl", ["status"], environment: ["HHCTL_SOCKET": "/tmp/absent-\(UUID()).sock"])
            #expect(fromEnvironment.status == 3 && fromEnvironment.stderr.contains("absent-"))
        }

        @Test func aBadConfigurationStopsTheStartNamingTheKey() throws {
            let directory = temporaryDirectory("config")
            let bad = directory + "/bad.toml"
            try "[camera]\nfps = 1000\n".write(toFile: bad, atomically: true, encoding: .utf8)
            let daemon = try runProduct("hhd", ["--config", bad, "--state-dir", directory])
            #expect(daemon.status == 78)
            #expect(daemon.stderr.contains("camera.fps") && daemon.stderr.contains("5…120"))
            let pace = try runProduct("hhd", ["--state-dir", directory, "--pace", "slow"])
            #expect(pace.status == 78 && pace.stderr.contains("realtime, fast"))
            let check = try runProduct("hhctl", ["config", "check", bad])
            #expect(check.status != 0 && check.stderr.contains("camera.fps"))
            let sample = repositoryRoot.appendingPathComponent("configs/hhd.toml").path
            let good = try runProduct("hhctl", ["config", "check", sample])
            #expect(good.status == 0 && good.stdout.contains("configuration OK"))
        }

        @Test func enrollStoresTheRelayAndTokenPrivately() throws {
            let directory = temporaryDirectory("enroll")
            let result = try runProduct("hhctl", ["enroll", "--relay", "https://relay.example.org", "--token", "abc123", "--state-dir", directory])
            #expect(result.status == 0, "\(result.stderr)")
            var info = stat()
            #expect(stat(directory + "/enrollment.json", &info) == 0 && info.st_mode & 0o777 == 0o600)
            let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/enrollment.json"))) as? [String: String]
            #expect(stored?["token"] == "abc123" && stored?["relayURL"] == "https://relay.example.org")
            let bad = try runProduct("hhctl", ["enroll", "--relay", "relay.example.org", "--token", "x", "--state-dir", directory])
            #expect(bad.status != 0 && bad.stderr.contains("relay.url"))
        }
    }
}

/// Writes `request` to the control socket as is and returns the answer line.
/// Sends `request` on a new connection to `path` and reads the answer line; with `halfClose`
/// the sending side is shut after the request (as `nc -N` does).
func rawExchange(_ path: String, _ request: String, halfClose: Bool = false) -> String {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else { return "connect failed" }
    var wait = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    let bytes = Array(request.utf8)
    var sent = 0
    while sent < bytes.count {
        let count = bytes[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        sent += count
    }
    if halfClose { shutdown(descriptor, Int32(SHUT_WR)) }
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !reply.contains(UInt8(ascii: "\n")) {
        let got = read(descriptor, &buffer, buffer.count)
        if got <= 0 { break }
        reply += buffer[0..<got]
    }
    return String(decoding: reply, as: UTF8.self)
}

/// The repository's root.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
