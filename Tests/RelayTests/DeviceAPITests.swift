import AWSSigning
import Foundation
import HHProtocol
import Logging
import NIOHTTP1
import Relay
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The device API over HTTP, against a real `hh-relay` process on each back end.
@Suite(.serialized) struct DeviceAPITests {
    @Test(arguments: Backend.allCases)
    func uploadsAreIdempotentAndConflictsRefused(_ backend: Backend) async throws {
        let relay = try RelayProcess(environment: try backend.freshDatabase())
        defer { relay.stop() }
        let north = try relay.clinicWithDevice("North")
        let south = try relay.clinicWithDevice("South")
        let auth = [("Authorization", "Bearer \(north.token)"), ("Content-Type", "application/json")]
        let id = UUID().uuidString.lowercased()
        let first = try await http("POST", relay.url + "/v1/sessions", headers: auth + [("X-Request-Id", "req-42")], body: sessionJSON(id: id))
        #expect(first.0 == 201, "\(String(decoding: first.2, as: UTF8.self))")
        #expect(first.1.first(name: "X-Request-Id") == "req-42")
        let again = try await http("POST", relay.url + "/v1/sessions", headers: auth, body: sessionJSON(id: id))
        #expect(again.0 == first.0 && again.2 == first.2, "a retry answers as the first time")
        // The same document written differently (other key order, spacing) is still a retry.
        let reordered = try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: sessionJSON(id: id)), options: [.prettyPrinted])
        let rewritten = try await http("POST", relay.url + "/v1/sessions", headers: auth, body: reordered)
        #expect(rewritten.0 == 201 && rewritten.2 == first.2)
        let different = try await http("POST", relay.url + "/v1/sessions", headers: auth, body: sessionJSON(id: id, bpm: 90))
        #expect(different.0 == 409 && errorCode(different.2) == "conflict")
        let stolen = try await http("POST", relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(south.token)")], body: sessionJSON(id: id))
        #expect(stolen.0 == 403 && errorCode(stolen.2) == "forbidden")
        let store = try storeOf(relay)
        #expect(try await store.sessionCount() == 1)
        let stored = try #require(try await store.session(id: id))
        #expect(stored.heartRateMedianBpm == 72, "the first document stays")
        await store.close()

        // The document of record is the exact bytes first sent; the refused ones were not kept.
        let export = try run(productsDirectory.appendingPathComponent("hh-relay").path, ["admin", "export-session", id], environment: relay.environment)
        #expect(export.status == 0 && Data(export.stdout.utf8) == sessionJSON(id: id), "\(export.stderr)")
        let objects = try Backend.objects(relay.environment)
        for (clinic, body) in [(north.clinic, sessionJSON(id: id, bpm: 90)), (north.clinic, reordered), (south.clinic, sessionJSON(id: id))] {
            let key = try ObjectKey.sessionDocument(clinicID: clinic, sessionID: id, digest: SigV4Encoding.payloadHash(body))
            #expect(try await objects.get(key) == nil, "refused document \(key) removed")
        }
        let missing = try run(productsDirectory.appendingPathComponent("hh-relay").path, ["admin", "export-session", UUID().uuidString], environment: relay.environment)
        #expect(missing.status != 0 && missing.stderr.contains("no session"))

        // One JSON line per request with its id, route, status, duration and device; no patient data.
        let lines = relay.log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        let logged = try #require(lines.first { $0["request_id"] == "req-42" })
        #expect(logged["status"] == "201" && logged["route"] == "/v1/sessions" && logged["duration_ms"] != nil && logged["device"] != nil)
        #expect(!relay.log.contains("snr_db") && !relay.log.contains("heart_rate"), "no session content in logs")
    }

    @Test(arguments: Backend.allCases)
    func badInputGetsTheRightErrorAndChangesNothing(_ backend: Backend) async throws {
        let relay = try RelayProcess(environment: try backend.freshDatabase(), extra: ["HH_RELAY_DEVICE_CACHE_SECONDS": "0"])
        defer { relay.stop() }
        let north = try relay.clinicWithDevice("North")
        let auth = [("Authorization", "Bearer \(north.token)")]
        let post = { (headers: [(String, String)], body: Data) in try await http("POST", relay.url + "/v1/sessions", headers: headers, body: body) }
        var valid = try JSONSerialization.jsonObject(with: sessionJSON()) as! [String: Any]

        var (status, _, body) = try await post(auth, Data("{not json".utf8))
        #expect(status == 400 && errorCode(body) == "malformed")
        valid["heart_rate"] = "fast"
        (status, _, body) = try await post(auth, try JSONSerialization.data(withJSONObject: valid))
        #expect(status == 400 && String(decoding: body, as: UTF8.self).contains("wrong type at heart_rate"))
        valid = try JSONSerialization.jsonObject(with: sessionJSON()) as! [String: Any]
        valid.removeValue(forKey: "started_at")
        (status, _, body) = try await post(auth, try JSONSerialization.data(withJSONObject: valid))
        #expect(status == 400 && String(decoding: body, as: UTF8.self).contains("missing started_at"))
        valid = try JSONSerialization.jsonObject(with: sessionJSON()) as! [String: Any]
        valid["id"] = "not-a-uuid"
        (status, _, body) = try await post(auth, try JSONSerialization.data(withJSONObject: valid))
        #expect(status == 400 && errorCode(body) == "invalid")
        (status, _, body) = try await post(auth, Data(repeating: UInt8(ascii: " "), count: 3 << 20))
        #expect(status == 413 && errorCode(body) == "too_large")

        (status, _, body) = try await post([], sessionJSON())
        #expect(status == 401 && errorCode(body) == "unauthorized")
        (status, _, _) = try await post([("Authorization", "Bearer nonsense")], sessionJSON())
        #expect(status == 401)
        let forged = north.token.dropLast(4) + "AAAA"
        (status, _, _) = try await post([("Authorization", "Bearer \(forged)")], sessionJSON())
        #expect(status == 401)
        let deviceID = north.token.split(separator: ".")[1]
        _ = try relay.admin(["revoke-device", String(deviceID)])
        (status, _, body) = try await post(auth, sessionJSON())
        #expect(status == 401 && String(decoding: body, as: UTF8.self).contains("revoked"))

        (status, _, body) = try await http("GET", relay.url + "/v2/nothing")
        #expect(status == 404 && errorCode(body) == "not_found")
        let store = try storeOf(relay)
        #expect(try await store.sessionCount() == 0, "nothing was stored")
        await store.close()
    }

    @Test func aRevokedTokenStopsWorkingWithinTheDeviceCacheTime() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase(), extra: ["HH_RELAY_DEVICE_CACHE_SECONDS": "1"])
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        let post = { try await http("POST", relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(device.token)")], body: sessionJSON()).0 }
        #expect(try await post() == 201)
        _ = try relay.admin(["revoke-device", String(device.token.split(separator: ".")[1])])
        try await Task.sleep(for: .milliseconds(1200))
        #expect(try await post() == 401)
    }

    @Test func aDeviceOverItsRateIsToldWhenToComeBack() async throws {
        // One request per ten seconds: a slow machine cannot refill the bucket between requests.
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase(), extra: ["HH_RELAY_RATE_LIMIT": "0.1", "HH_RELAY_RATE_BURST": "3"])
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<5 {
            let (status, headers, body) = try await http("POST", relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(device.token)")], body: sessionJSON())
            statuses.append(status)
            if status == 429 {
                retryAfter = headers.first(name: "Retry-After")
                #expect(errorCode(body) == "rate_limited")
            }
        }
        #expect(statuses.prefix(3).allSatisfy { $0 == 201 } && statuses.last == 429)
        #expect(retryAfter.flatMap(Int.init).map { (1...10).contains($0) } == true, "Retry-After is the seconds until a token is back: \(retryAfter ?? "none")")
    }

    @Test func healthMetricsAndTheOpenAPIDocument() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase())
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        _ = try await http("POST", relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(device.token)")], body: sessionJSON())
        let (healthStatus, _, health) = try await http("GET", relay.url + "/health")
        #expect(healthStatus == 200 && String(decoding: health, as: UTF8.self).contains(#""database":"ok""#))
        let (_, headers, metrics) = try await http("GET", relay.url + "/metrics")
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(headers.first(name: "Content-Type")?.hasPrefix("text/plain") == true)
        #expect(text.contains("http_server_request_duration_bucket") && text.contains(#"/v1/sessions"#), "latency histogram by route:\n\(text.prefix(3000))")
        #expect(text.contains("hb_requests") && text.contains(#"http_response_status_code="201""#), "requests by route and status:\n\(text.prefix(3000))")
        #expect(text.contains("hh_relay_db_pool_size") && text.contains("hh_relay_db_operations_in_flight"))
        #expect(text.contains(#"hh_relay_object_operation_duration_bucket{operation="put""#), "object store latency")
        let (_, _, document) = try await http("GET", relay.url + "/openapi.yaml")
        #expect(document == (try Data(contentsOf: repositoryRoot.appendingPathComponent("docs/openapi.yaml"))))
    }

    @Test func sigtermStopsTheRelayCleanly() throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase())
        kill(relay.process.processIdentifier, SIGTERM)
        let start = Date()
        relay.process.waitUntilExit()
        #expect(relay.process.terminationStatus == 0, "\(relay.log)")
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func aBadConfigurationIsAClearErrorAtStart() throws {
        let result = try run(productsDirectory.appendingPathComponent("hh-relay").path, ["serve"], environment: ["HH_RELAY_PORT": "eighty"])
        #expect(result.status == 78 && result.stderr.contains("HH_RELAY_PORT"))
        let url = try run(productsDirectory.appendingPathComponent("hh-relay").path, ["migrate", "--database-url", "mysql://x@y/z"])
        #expect(url.status == 78 && url.stderr.contains("postgres://"))
    }

    /// A store on the relay's own database, to look at what it stored.
    private func storeOf(_ relay: RelayProcess) throws -> any RelayStore {
        var configuration = RelayConfiguration()
        try configuration.apply(relay.environment)
        return try RelayStores.open(configuration: configuration, logger: .init(label: "test"))
    }
}
