import AsyncHTTPClient
import Foundation
import HHProtocol
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Relay
import TestSupport

/// A relay with two clinics to look at through the web UI: North (a clinician, an admin, two
/// kiosks, visits with voice turns, one escalated, one whose transcript holds markup, retained
/// audio) and South (a clinician, one kiosk, one visit).
final class WebFixture: @unchecked Sendable {
    static let password = "correct horse battery staple"
    let relay: RelayProcess
    let store: any RelayStore
    let north: String, south: String
    let northDevice: String, northToken: String
    /// North's visits, newest first.
    let northVisits: [String]
    let escalatedVisit: String
    let markupVisit: String
    let southVisit: String
    /// A turn of the escalated visit, with its audio retained.
    let turnWithAudio: StoredTurn
    static let markup = "<script>alert('x')</script> & <b>bold</b>"

    init(backend: Backend, visits: Int = 4, extra: [String: String] = ["HH_RELAY_COOKIE_SECURE": "false"]) async throws {
        relay = try RelayProcess(environment: try backend.freshDatabase(), extra: extra)
        var configuration = RelayConfiguration()
        try configuration.apply(relay.environment)
        store = try RelayStores.open(configuration: configuration, logger: .init(label: "test"))
        let northKiosk = try relay.clinicWithDevice("North")
        let southKiosk = try relay.clinicWithDevice("South")
        north = northKiosk.clinic
        south = southKiosk.clinic
        northToken = northKiosk.token
        northDevice = String(northKiosk.token.split(separator: ".")[1])
        let southDevice = String(southKiosk.token.split(separator: ".")[1])
        for (clinic, email, role) in [(north, "nurse@north.example", "clinician"), (north, "admin@north.example", "admin"), (south, "nurse@south.example", "clinician")] {
            let result = try run(
                productsDirectory.appendingPathComponent("hh-relay").path,
                ["admin", "add-user", "--clinic", clinic, "--email", email, "--role", role], environment: relay.environment, input: Self.password + "\n")
            guard result.status == 0 else { throw TestSetupError("add-user: \(result.stderr)") }
        }
        var ids: [String] = []
        for index in 0..<visits {
            let id = UUID().uuidString.lowercased()
            try await Self.upload(Self.visitDocument(id: id, start: 1_800_000_000 + Double(index) * 3600, minutes: index == visits - 1 ? 10 : 2), token: northToken, url: relay.url)
            ids.append(id)
        }
        northVisits = ids.reversed()
        escalatedVisit = northVisits[0]
        markupVisit = northVisits[1]
        southVisit = UUID().uuidString.lowercased()
        try await Self.upload(Self.visitDocument(id: southVisit, start: 1_800_000_000, minutes: 2), token: southKiosk.token, url: relay.url)

        _ = try await answerTurn(store, session: escalatedVisit, clinic: north, device: northDevice, transcript: "what is my heart rate")
        var urgent = try await answerTurn(store, session: escalatedVisit, clinic: north, device: northDevice, escalation: "chest_pain", transcript: "I have chest pain")
        _ = try await answerTurn(store, session: markupVisit, clinic: north, device: northDevice, transcript: Self.markup)
        _ = try await answerTurn(store, session: southVisit, clinic: south, device: southDevice, escalation: "chest_pain", transcript: "help")
        // The escalated turn's audio, retained as the voice pipeline keeps it.
        let objects = try Backend.objects(relay.environment)
        let folder = "turns/\(north)/\(escalatedVisit)/\(urgent.id)"
        let tone = (0..<8000).map { Int16(8000 * sin(Double($0) * 2 * .pi * 440 / 16_000)) }
        var keys: [String] = []
        for name in ["question.wav", "reply.wav"] {
            let key = try ObjectKey("\(folder)/\(name)")
            try await objects.put(ByteBuffer(data: wavFile(tone)), at: key, contentType: "audio/wav")
            keys.append(key.description)
        }
        await objects.shutdown()
        try await store.retainTurnAudio(id: urgent.id, keys: keys, until: Date().addingTimeInterval(86_400))
        urgent.audioKeys = keys
        turnWithAudio = urgent
    }

    func stop() async {
        await store.close()
        relay.stop()
    }

    /// A visit of `minutes` at one-second resolution with what real visits have: a start with
    /// no estimate yet, a weak stretch, a gap where the patient looked away, respiration.
    static func visitDocument(id: String, start: Double, minutes: Int) -> Data {
        let seconds = minutes * 60
        let samples: [HeartRateSample] = (0..<seconds).map { second in
            let t = Double(second)
            guard second >= 8 else { return HeartRateSample(t: t) }
            if (seconds / 2..<seconds / 2 + 15).contains(second) { return HeartRateSample(t: t) }
            let weak = (seconds / 4..<seconds / 4 + 20).contains(second)
            let bpm = 72 + 6 * sin(t / 40) + (weak ? 9 * sin(t) : 0)
            return HeartRateSample(t: t, bpm: (bpm * 10).rounded() / 10, snrDb: weak ? 1.5 : 7 + sin(t / 17), respirationBpm: second % 5 == 0 ? 14 + sin(t / 60) : nil)
        }
        let document = SessionDocument(
            id: id, startedAt: Date(timeIntervalSince1970: start), endedAt: Date(timeIntervalSince1970: start + Double(seconds)), endReason: .absence,
            heartRate: samples, summary: VitalsSummary(series: samples, variability: .init(rmssdMs: 38, sdnnMs: 52)), voiceTurns: [],
            metadata: SessionMetadata(softwareVersion: "0.5.0", pulseMethod: "pos"))
        return try! WireJSON.encoder().encode(document)
    }

    static func upload(_ body: Data, token: String, url: String) async throws {
        let response = try await http("POST", url + "/v1/sessions", headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")], body: body)
        guard response.0 == 201 else { throw TestSetupError("upload: \(response.0) \(String(decoding: response.2, as: UTF8.self))") }
    }
}

/// A browser without a browser: keeps cookies, never follows redirects, reads forms' CSRF tokens.
final class WebClient: @unchecked Sendable {
    let base: String
    var cookies: [String: String] = [:]
    /// The last response's Set-Cookie lines.
    private(set) var setCookies: [String] = []
    private static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    init(_ base: String) { self.base = base }

    struct Page {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        var location: String? { headers.first(name: "Location") }
        /// The value of the first hidden `csrf` field.
        var csrf: String? {
            guard let range = text.range(of: "name=\"csrf\" value=\"") else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    func get(_ path: String) async throws -> Page { try await send("GET", path, body: nil) }

    func post(_ path: String, _ fields: [(String, String)]) async throws -> Page {
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await send("POST", path, body: Data(body.utf8))
    }

    /// Signs in as `email`; returns the page the sign-in answered with.
    @discardableResult
    func signIn(_ email: String, password: String = WebFixture.password) async throws -> Page {
        let form = try await get("/login")
        return try await post("/login", [("csrf", form.csrf ?? ""), ("email", email), ("password", password), ("next", "/sessions")])
    }

    private func send(_ method: String, _ path: String, body: Data?) async throws -> Page {
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        if !cookies.isEmpty { request.headers.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 32 << 20)
        setCookies = response.headers["Set-Cookie"]
        for line in setCookies {
            let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            if pair[1].isEmpty || line.lowercased().contains("max-age=0") { cookies[String(pair[0])] = nil } else { cookies[String(pair[0])] = String(pair[1]) }
        }
        return Page(status: Int(response.status.code), headers: response.headers, body: Data(buffer: data))
    }
}
