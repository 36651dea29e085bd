import AWSSigning
import Foundation
import HHProtocol
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Relay
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What an attacker's review found in the relay (issue 11), each proved fixed against a real
/// `hh-relay` process.
@Suite(.serialized) struct RelayHardeningTests {
    private func post(_ relay: RelayProcess, token: String, _ body: Data) async throws -> (Int, Data) {
        let (status, _, data) = try await http("POST", relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(token)")], body: body)
        return (status, data)
    }

    private func message(_ body: Data) -> String {
        (try? WireJSON.decoder().decode(ErrorResponse.self, from: body))?.error.message ?? String(decoding: body, as: UTF8.self)
    }

    @Test func aDeletedDataFolderIsUnavailableNotAcceptedIntoAnUnlinkedFile() async throws {
        let environment = try Backend.sqlite.freshDatabase()
        let relay = try RelayProcess(environment: environment)
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        #expect(try await post(relay, token: device.token, sessionJSON()).0 == 201)
        try FileManager.default.removeItem(atPath: environment["HH_RELAY_DATA_DIR"]!)
        let (status, _, body) = try await http(
            "POST", relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(device.token)"), ("X-Request-Id", "gone-1")], body: sessionJSON())
        #expect(status == 503, "\(message(body))")
        #expect(message(body).contains("removed"), "says why: \(message(body))")
        // The cause is logged, under the request's own id.
        let lines = relay.log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        let cause = lines.first { $0["message"]?.hasSuffix("failed") == true && $0["request_id"] == "gone-1" }
        #expect(cause?["error"]?.contains("removed") == true && cause?["hb.request.id"] == nil, "\(relay.log.suffix(1500))")
        let (health, _, healthBody) = try await http("GET", relay.url + "/health")
        #expect(health == 503 && message(healthBody).contains("removed"), "\(message(healthBody))")
        #expect(relay.process.isRunning)
    }

    @Test func aRelativeDataFolderRenamedAwayIsUnavailableNotACrash() async throws {
        let directory = NSTemporaryDirectory() + "relay-cwd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let relay = try RelayProcess(environment: ["HH_RELAY_DATA_DIR": "data"], directory: directory)
        defer { relay.stop() }
        var admin = relay.environment
        admin["HH_RELAY_DATA_DIR"] = directory + "/data"
        let clinic = try run(productsDirectory.appendingPathComponent("hh-relay").path, ["admin", "add-clinic", "North"], environment: admin)
        let clinicID = String(clinic.stdout.split(separator: "\n").last ?? "")
        let device = try run(productsDirectory.appendingPathComponent("hh-relay").path, ["admin", "add-device", "--clinic", clinicID, "--name", "Lobby"], environment: admin)
        let token = String(device.stdout.split(separator: "\n").last ?? "")
        #expect(try await post(relay, token: token, sessionJSON()).0 == 201)
        #expect(rename(directory + "/data", directory + "/data.old") == 0)
        let (status, body) = try await post(relay, token: token, sessionJSON())
        #expect(status == 503, "\(message(body))")
        #expect(relay.process.isRunning, "the relay is still up:\n\(relay.log.suffix(2000))")
        #expect(!FileManager.default.fileExists(atPath: directory + "/data"), "no empty store made in its place")
    }

    @Test(arguments: Backend.allCases)
    func documentsAStoreCannotKeepAreRefusedWith400AndLeaveNothing(_ backend: Backend) async throws {
        let relay = try RelayProcess(environment: try backend.freshDatabase())
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        let id = UUID().uuidString.lowercased()
        let valid = String(decoding: sessionJSON(id: id), as: UTF8.self)
        let poisons: [(String, Data)] = [
            ("NUL escape", Data(valid.replacingOccurrences(of: #""pulse_method":"pos""#, with: #""pulse_method":"p\u0000s""#).utf8)),
            ("byte-order mark", Data([0xEF, 0xBB, 0xBF]) + Data(valid.utf8)),
            ("UTF-16", valid.data(using: .utf16)!),
            ("lone surrogate", Data(valid.replacingOccurrences(of: #""pulse_method":"pos""#, with: #""pulse_method":"\ud800""#).utf8)),
            ("duplicate key", Data(valid.replacingOccurrences(of: #""seconds_with_estimate":1"#, with: #""seconds_with_estimate":1,"seconds_with_estimate":-5"#).utf8)),
            ("unknown key", Data(valid.replacingOccurrences(of: #""schema_version":1"#, with: #""padding":"\#(String(repeating: "x", count: 1000))","schema_version":1"#).utf8)),
        ]
        for (name, body) in poisons {
            #expect(body != Data(valid.utf8), "\(name) changed the document")
            let (status, answer) = try await post(relay, token: device.token, body)
            #expect(status == 400, "\(name): \(status) \(message(answer))")
        }
        let objects = try Backend.objects(relay.environment)
        #expect(try await objects.list(prefix: "sessions/").isEmpty, "no document of record kept for a refused upload")
        #expect(try await post(relay, token: device.token, Data(valid.utf8)).0 == 201, "the clean document goes in")
        #expect(try await objects.list(prefix: "sessions/").count == 1)
    }

    @Test func forgedTokensAreThrottledPerAddressBeforeTheDatabase() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase())
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        #expect(try await post(relay, token: device.token, sessionJSON()).0 == 201, "the kiosk's device is now cached")
        // 40 forged tokens at once, each for a different unknown device.
        let url = relay.url + "/v1/sessions"
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    let forged = "hh1.\(UUID().uuidString.lowercased()).\(String(repeating: "A", count: 43))"
                    return try await http("POST", url, headers: [("Authorization", "Bearer \(forged)")], body: sessionJSON()).0
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 401 }.count <= Int(RelayServer.failedAuthenticationBurst) + 1, "\(statuses.sorted())")
        #expect(statuses.filter { $0 == 429 }.count >= 40 - Int(RelayServer.failedAuthenticationBurst) - 1, "\(statuses.sorted())")
        let (_, _, metrics) = try await http("GET", relay.url + "/metrics")
        let lookups = String(decoding: metrics, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix(#"hh_relay_db_operation_duration_count{operation="device"}"#) }
            .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? -1
        #expect(lookups >= 1 && lookups <= RelayServer.failedAuthenticationBurst + 2, "at most the burst reached the database: \(lookups)")
        // The throttle costs nothing to a kiosk whose device is known: it is served.
        #expect(try await post(relay, token: device.token, sessionJSON()).0 == 201)
    }

    @Test func idleAndSlowConnectionsAreLetGoAndShutdownIsBounded() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase(), extra: [
            "HH_RELAY_IDLE_TIMEOUT_SECONDS": "2", "HH_RELAY_BODY_TIMEOUT_SECONDS": "3", "HH_RELAY_SHUTDOWN_SECONDS": "2",
        ])
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        // Idle, half a head, and a head followed by a body that trickles a byte a second.
        let idle = try RawConnection(port: relay.port)
        let slowHead = try RawConnection(port: relay.port)
        slowHead.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\n")
        let trickle = try RawConnection(port: relay.port)
        trickle.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(device.token)\r\nContent-Length: 1000\r\n\r\n{")
        for _ in 0..<5 {
            try await Task.sleep(for: .seconds(1))
            trickle.send(" ")
        }
        #expect(idle.isClosedByPeer(), "an idle connection is closed after the idle timeout")
        #expect(slowHead.isClosedByPeer(), "a head that never completes is closed")
        let answer = trickle.receiveAll()
        #expect(answer.hasPrefix("HTTP/1.1 408") || trickle.isClosedByPeer(), "a trickling body is cut off: \(answer)")

        // SIGTERM with an upload stalled mid-body: the relay still stops, within its shutdown time.
        let stalled = try RawConnection(port: relay.port)
        stalled.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(device.token)\r\nContent-Length: 1000\r\n\r\n{")
        try await Task.sleep(for: .milliseconds(300))
        let start = ContinuousClock.now
        kill(relay.process.processIdentifier, SIGTERM)
        relay.process.waitUntilExit()
        #expect(ContinuousClock.now - start < .seconds(10), "stopped in \(ContinuousClock.now - start)")
    }

    @Test func whatPostgresRefusesAsDataIsA400NotAnEndless503() async throws {
        // Past validation (here: straight to the store), Postgres' data exceptions are the
        // document's fault, told apart from an unavailable database.
        let store = try Backend.postgres.freshStore()
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        _ = try await store.addDevice(id: "d1", clinicID: clinic.id, name: "Lobby", secretHash: "h")
        let session = StoredSession(
            id: UUID().uuidString.lowercased(), clinicID: clinic.id, deviceID: "d1", startedAt: Date(), endedAt: Date(), digest: "x",
            document: #"{"id":"a\u0000b"}"#, heartRateMedianBpm: nil)
        await #expect(throws: RelayStoreError.self) { _ = try await store.store(session) }
        do { _ = try await store.store(session) } catch let error as RelayStoreError {
            guard case .unstorable = error else { Issue.record("\(error) is not unstorable"); return }
        }
        #expect(try await store.sessionCount() == 0)
        await store.close()
    }

    @Test func connectionsBeyondTheCapWaitToBeAccepted() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase(), extra: [
            "HH_RELAY_MAX_CONNECTIONS": "2", "HH_RELAY_IDLE_TIMEOUT_SECONDS": "2",
        ])
        defer { relay.stop() }
        // Timed from when the two idle connections were opened (not from the third), so a
        // machine slow to wake the test after its pause does not make the wait look short.
        let opened = ContinuousClock.now
        let held = [try RawConnection(port: relay.port), try RawConnection(port: relay.port)]
        try await Task.sleep(for: .milliseconds(200))
        // A third is not served until an idle one is let go (after the 2 s idle timeout).
        let third = try RawConnection(port: relay.port)
        third.send("GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answer = third.receiveAll()
        let waited = ContinuousClock.now - opened
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(waited > .milliseconds(1500), "served only once a slot was free: \(waited) after the idle two opened")
        #expect(held.allSatisfy { $0.isClosedByPeer() })
    }

    @Test func malformedChunkedBodiesAre400() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase())
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        let connection = try RawConnection(port: relay.port)
        connection.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(device.token)\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n")
        let answer = connection.receiveAll()
        #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
        #expect(!relay.log.contains(#""status":"500""#), "no 500 logged")
    }

    @Test func undeclaredMethodsAre405AndRequestIdsFollowTheSchema() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase())
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        let (status, headers, body) = try await http("GET", relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(device.token)")])
        #expect(status == 405 && headers.first(name: "Allow") == "POST", "\(status) \(message(body))")
        #expect(try await http("DELETE", relay.url + "/health").0 == 405)
        #expect(try await http("GET", relay.url + "/nothing").0 == 404)
        for bad in ["", "has space", String(repeating: "a", count: 129)] {
            let (status, _, _) = try await http("POST", relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(device.token)"), ("X-Request-Id", bad)], body: sessionJSON())
            #expect(status == 400, "X-Request-Id \"\(bad)\"")
        }
        let store = try RelayStores.open(configuration: { var c = RelayConfiguration(); try! c.apply(relay.environment); return c }(), logger: Logger(label: "test"))
        #expect(try await store.sessionCount() == 0)
        await store.close()
    }

    @Test func dataFilesAreReadableByTheRelayOnly() async throws {
        let environment = try Backend.sqlite.freshDatabase()
        let relay = try RelayProcess(environment: environment)
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        #expect(try await post(relay, token: device.token, sessionJSON()).0 == 201)
        let folder = environment["HH_RELAY_DATA_DIR"]!
        var checked = 0
        let walker = FileManager.default.enumerator(atPath: folder)!
        while let relative = walker.nextObject() as? String {
            var info = stat()
            guard stat(folder + "/" + relative, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            #expect(info.st_mode & 0o077 == 0, "\(relative) is \(String(info.st_mode & 0o777, radix: 8))")
            checked += 1
        }
        #expect(checked >= 3, "relay.sqlite, its WAL and a document")
    }

    @Test func theSweeperRemovesAbandonedWritesAndOrphansOnly() async throws {
        let folder = NSTemporaryDirectory() + "sweep-\(UUID().uuidString.prefix(8))"
        let objects = try LocalFolderObjectStore(root: folder + "/objects")
        let store = try SQLiteRelayStore(directory: folder)
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        _ = try await store.addDevice(id: "d1", clinicID: clinic.id, name: "Lobby", secretHash: "h")
        let body = sessionJSON()
        let document = try SessionUpload.parse(body)
        let digest = sha256(body)
        let kept = try ObjectKey.sessionDocument(clinicID: clinic.id, sessionID: document.id, digest: digest)
        try await objects.put(ByteBuffer(data: body), at: kept, contentType: "application/json")
        _ = try await store.store(StoredSession(
            id: document.id, clinicID: clinic.id, deviceID: "d1", startedAt: document.startedAt, endedAt: document.endedAt, digest: digest,
            document: String(decoding: body, as: UTF8.self), heartRateMedianBpm: nil))
        let orphan = try ObjectKey.sessionDocument(clinicID: clinic.id, sessionID: UUID().uuidString.lowercased(), digest: digest)
        try await objects.put(ByteBuffer(string: "{}"), at: orphan, contentType: "application/json")
        let fresh = try ObjectKey.sessionDocument(clinicID: clinic.id, sessionID: UUID().uuidString.lowercased(), digest: digest)
        try await objects.put(ByteBuffer(string: "{}"), at: fresh, contentType: "application/json")
        let temporary = folder + "/objects/sessions/\(clinic.id)/.tmp-abandoned"
        _ = FileManager.default.createFile(atPath: temporary, contents: Data("half".utf8))
        // Age everything but `fresh` by two hours.
        for path in [folder + "/objects/" + kept.text, folder + "/objects/" + orphan.text, temporary] {
            var times = [timespec(tv_sec: time(nil) - 7200, tv_nsec: 0), timespec(tv_sec: time(nil) - 7200, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        }
        let sweeper = ObjectSweeper(store: store, objects: objects, logger: Logger(label: "test"))
        let outcome = try await sweeper.sweep(now: Date())
        #expect(outcome == .init(temporaries: 1, orphans: 1))
        #expect(try await objects.get(kept) != nil, "a document with its row stays")
        #expect(try await objects.get(orphan) == nil, "an old document without a row goes")
        #expect(try await objects.get(fresh) != nil, "a young one may still be getting its row")
        #expect(!FileManager.default.fileExists(atPath: temporary))
        await objects.shutdown()
    }
}

/// Lower-case hex SHA-256, as the relay names documents.
private func sha256(_ data: Data) -> String {
    SigV4Encoding.payloadHash(data)
}

/// A raw TCP connection to the relay, for what HTTP clients will not send.
final class RawConnection {
    private let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw TestSetupError("cannot connect to port \(port)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything the peer sends until it closes or goes quiet for 5 s.
    func receiveAll() -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether the peer has closed the connection (reads end, within 5 s).
    func isClosedByPeer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }
}
