import Foundation
import HHProtocol
import NIOHTTP1
import Relay
import TestSupport
import Testing

/// The clinician web UI over HTTP against a real `hh-relay`, both back ends: sign-in, CSRF,
/// clinic isolation, escaping, headers, audit, exports, admin pages.
@Suite(.serialized) struct WebUITests {
    @Test(arguments: Backend.allCases)
    func aClinicianReviewsVisitsOfTheirClinicOnly(_ backend: Backend) async throws {
        let fixture = try await WebFixture(backend: backend)
        defer { fixture.relay.stop() }
        let nurse = WebClient(fixture.relay.url)

        // Signed out: every page sends the browser to sign in, and back afterwards.
        let signedOut = try await nurse.get("/sessions/\(fixture.escalatedVisit)")
        #expect(signedOut.status == 303 && signedOut.location == "/login?next=%2Fsessions%2F\(fixture.escalatedVisit)")
        let login = try await nurse.get("/login")
        #expect(login.status == 200 && login.csrf != nil && login.text.contains("name=\"email\"") && login.text.contains("name=\"password\""))
        // A sign-in form posted without its token (another site's form) is refused.
        let forged = try await nurse.post("/login", [("email", "nurse@north.example"), ("password", WebFixture.password)])
        #expect(forged.status == 403 && nurse.cookies["hh_session"] == nil)
        let wrong = try await nurse.signIn("nurse@north.example", password: "not the password")
        #expect(wrong.status == 401 && wrong.text.contains("not right") && nurse.cookies["hh_session"] == nil)
        let signedIn = try await nurse.signIn("nurse@north.example")
        #expect(signedIn.status == 303 && signedIn.location == "/sessions")
        let cookie = try #require(nurse.setCookies.first { $0.hasPrefix("hh_session=") })
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "\(cookie)")

        // The list: newest first, the escalated visit pinned and flagged; strict headers.
        let list = try await nurse.get("/sessions")
        #expect(list.status == 200)
        let csp = try #require(list.headers.first(name: "Content-Security-Policy"))
        #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"))
        #expect(list.headers.first(name: "X-Content-Type-Options") == "nosniff" && list.headers.first(name: "Referrer-Policy") != nil)
        #expect(list.headers.first(name: "Strict-Transport-Security") == nil, "no HSTS on plain-HTTP localhost")
        let attention = try #require(list.text.range(of: "Needs attention"))
        #expect(list.text[attention.upperBound...].contains("/sessions/\(fixture.escalatedVisit)/acknowledge"))
        for id in fixture.northVisits { #expect(list.text.contains("/sessions/\(id)\"")) }
        #expect(!list.text.contains(fixture.southVisit), "another clinic's visit is not listed")
        #expect(!list.text.contains("<script>alert"))

        // One visit: chart, transcript escaped, audio, exports.
        let visit = try await nurse.get("/sessions/\(fixture.markupVisit)")
        #expect(visit.status == 200 && visit.text.contains("<svg") && visit.text.contains("class=\"median\"") && visit.text.contains("weak-band"))
        #expect(visit.text.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"), "the transcript is text")
        #expect(!visit.text.contains(WebFixture.markup))
        let escalated = try await nurse.get("/sessions/\(fixture.escalatedVisit)")
        let audioPath = "/sessions/\(fixture.escalatedVisit)/turns/\(fixture.turnWithAudio.id)/audio/patient"
        #expect(escalated.text.contains(audioPath) && escalated.text.contains("I have chest pain"))
        let audio = try await nurse.get(audioPath)
        #expect(audio.status == 200 && audio.headers.first(name: "Content-Type") == "audio/wav" && audio.body.starts(with: Data("RIFF".utf8)))
        let json = try await nurse.get("/sessions/\(fixture.escalatedVisit)/export.json")
        let stored = try #require(try await fixture.store.session(id: fixture.escalatedVisit))
        #expect(json.status == 200 && json.text == stored.document, "the document of record, as sent")
        let csv = try await nurse.get("/sessions/\(fixture.escalatedVisit)/export.csv")
        let document = try WireJSON.decoder().decode(SessionDocument.self, from: Data(stored.document.utf8))
        #expect(csv.status == 200 && csv.text.split(separator: "\n").count == document.heartRate.count + 1)
        let fhir = try await nurse.get("/sessions/\(fixture.escalatedVisit)/export.fhir.json")
        #expect(fhir.status == 200 && fhir.headers.first(name: "Content-Type") == "application/fhir+json")
        let bundlePath = NSTemporaryDirectory() + "bundle-\(UUID().uuidString).json"
        try fhir.body.write(to: URL(fileURLWithPath: bundlePath))
        let validation = try run("/usr/bin/env", ["python3", repositoryRoot.appendingPathComponent("Tests/web/validate_fhir.py").path, bundlePath])
        #expect(validation.status == 0, "\(validation.stdout)\(validation.stderr)")
        #expect(validation.stdout.contains("heart rate observations: \(document.heartRate.compactMap(\.bpm).count)"), "\(validation.stdout)")

        // A form larger than the UI reads is refused whole.
        let huge = try await nurse.post("/sessions/\(fixture.escalatedVisit)/acknowledge", [("csrf", list.csrf ?? ""), ("note", String(repeating: "x", count: 40_000))])
        #expect(huge.status == 413)
        #expect(try await fixture.store.visit(id: fixture.escalatedVisit, clinicID: fixture.north)?.acknowledgedAt == nil)
        // Acknowledging needs the form's token; without it nothing changes.
        let noToken = try await nurse.post("/sessions/\(fixture.escalatedVisit)/acknowledge", [("next", "/sessions")])
        #expect(noToken.status == 403)
        let wrongToken = try await nurse.post("/sessions/\(fixture.escalatedVisit)/acknowledge", [("csrf", "forged"), ("next", "/sessions")])
        #expect(wrongToken.status == 403)
        #expect(try await fixture.store.visit(id: fixture.escalatedVisit, clinicID: fixture.north)?.acknowledgedAt == nil)
        let acknowledged = try await nurse.post("/sessions/\(fixture.escalatedVisit)/acknowledge", [("csrf", list.csrf ?? ""), ("next", "/sessions")])
        #expect(acknowledged.status == 303 && acknowledged.location == "/sessions")
        #expect(try await fixture.store.visit(id: fixture.escalatedVisit, clinicID: fixture.north)?.acknowledgedAt != nil)
        #expect(try await !nurse.get("/sessions").text.contains("Needs attention"))

        // Another clinic's clinician: 404 for every North URL, the same page as a made-up id.
        let other = WebClient(fixture.relay.url)
        #expect(try await other.signIn("nurse@south.example").status == 303)
        let missing = try await other.get("/sessions/\(UUID().uuidString.lowercased())")
        #expect(missing.status == 404)
        for path in ["/sessions/\(fixture.escalatedVisit)", "/sessions/\(fixture.markupVisit)/export.json", "/sessions/\(fixture.markupVisit)/export.csv",
                     "/sessions/\(fixture.markupVisit)/export.fhir.json", audioPath] {
            let page = try await other.get(path)
            #expect(page.status == 404 && page.text == missing.text, "\(path)")
        }
        let theirs = try await other.get("/sessions")
        let foreign = try await other.post("/sessions/\(fixture.markupVisit)/acknowledge", [("csrf", theirs.csrf ?? "")])
        #expect(foreign.status == 404)
        #expect(try await other.get("/sessions").text.contains(fixture.southVisit))

        // The audit log: who saw, played and exported what, from where.
        let entries = try await fixture.store.audit(clinicID: fixture.north, before: nil, limit: 100)
        let actions = entries.map { "\($0.action) \($0.subject)" }
        for expected in ["view_visit \(fixture.markupVisit)", "play_audio \(fixture.escalatedVisit)/\(fixture.turnWithAudio.id)/question.wav",
                         "export_visit \(fixture.escalatedVisit) (fhir)", "acknowledge \(fixture.escalatedVisit)", "sign_in "] {
            #expect(actions.contains(expected), "\(expected) in \(actions)")
        }
        #expect(entries.allSatisfy { $0.email == "nurse@north.example" && $0.address == "127.0.0.1" })
        #expect(try await fixture.store.audit(clinicID: fixture.south, before: nil, limit: 100).allSatisfy { $0.email == "nurse@south.example" })

        // Signing out ends the session on the server: the old cookie no longer works.
        let oldCookie = try #require(nurse.cookies["hh_session"])
        let signOut = try await nurse.post("/logout", [("csrf", list.csrf ?? "")])
        #expect(signOut.status == 303 && signOut.location == "/login" && nurse.cookies["hh_session"] == nil)
        let replay = WebClient(fixture.relay.url)
        replay.cookies["hh_session"] = oldCookie
        #expect(try await replay.get("/sessions").status == 303)
        await fixture.stop()
    }

    @Test func adminsManageKiosksAndReadTheAuditLog() async throws {
        let fixture = try await WebFixture(backend: .sqlite)
        defer { fixture.relay.stop() }
        let nurse = WebClient(fixture.relay.url), admin = WebClient(fixture.relay.url)
        try await nurse.signIn("nurse@north.example")
        try await admin.signIn("admin@north.example")
        for path in ["/kiosks", "/audit", "/audit.csv", "/kiosks/\(fixture.northDevice)/revoke"] {
            #expect(try await nurse.get(path).status == 404, "\(path) is for admins")
        }
        let kiosks = try await admin.get("/kiosks")
        #expect(kiosks.status == 200 && kiosks.text.contains("North lobby") && !kiosks.text.contains("South lobby") && kiosks.text.contains("0.5.0"))
        let confirm = try await admin.get("/kiosks/\(fixture.northDevice)/revoke")
        #expect(confirm.status == 200 && confirm.text.contains("Revoke North lobby?"))
        #expect(try await admin.post("/kiosks/\(fixture.northDevice)/revoke", []).status == 403)
        #expect(try await fixture.store.device(id: fixture.northDevice)?.revokedAt == nil)
        let revoked = try await admin.post("/kiosks/\(fixture.northDevice)/revoke", [("csrf", confirm.csrf ?? "")])
        #expect(revoked.status == 303 && revoked.location == "/kiosks")
        #expect(try await fixture.store.device(id: fixture.northDevice)?.revokedAt != nil)
        // The kiosk's token stops working (after the relay's device cache, at most 5 s).
        var status = 0
        for _ in 0..<40 {
            status = try await http("POST", fixture.relay.url + "/v1/sessions", headers: [("Authorization", "Bearer \(fixture.northToken)")], body: sessionJSON()).0
            if status == 401 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(status == 401)

        _ = try await nurse.get("/sessions/\(fixture.markupVisit)")
        let audit = try await admin.get("/audit")
        #expect(audit.status == 200 && audit.text.contains("nurse@north.example") && audit.text.contains("view visit") && audit.text.contains("revoke kiosk"))
        let csv = try await admin.get("/audit.csv")
        #expect(csv.status == 200 && csv.headers.first(name: "Content-Disposition")?.contains("attachment") == true)
        let lines = csv.text.split(separator: "\n")
        #expect(lines.first == "time_utc,email,action,record,address" && lines.contains { $0.contains(",view_visit,\(fixture.markupVisit),") })
        await fixture.stop()
    }

    @Test func signInIsThrottledAndCookiesAreSecureByDefault() async throws {
        let fixture = try await WebFixture(backend: .sqlite, visits: 2, extra: [:])
        defer { fixture.relay.stop() }
        let client = WebClient(fixture.relay.url)
        // Secure by default: the cookie is Secure and pages carry HSTS. (A plain-HTTP client
        // can still read the Set-Cookie line.)
        let login = try await client.get("/login")
        #expect(login.headers.first(name: "Strict-Transport-Security")?.contains("max-age=") == true)
        #expect(client.setCookies.allSatisfy { $0.contains("Secure") })
        for _ in 0..<5 { #expect(try await client.signIn("nurse@north.example", password: "guess guess guess").status == 401) }
        let throttled = try await client.signIn("nurse@north.example")
        #expect(throttled.status == 429 && throttled.headers.first(name: "Retry-After") != nil && throttled.text.contains("Too many failed sign-ins"))
        #expect(client.cookies["hh_session"] == nil, "the right password does not get in while throttled")
        // Another account from the same address is throttled too (per address).
        #expect(try await client.signIn("admin@north.example").status == 429)
        await fixture.stop()
    }

    @Test func passwordsAreHashedWithSaltAndCheckedInConstantForm() throws {
        let cheap = PasswordHash.Cost(log2N: 10, blockSize: 8, parallelism: 1)
        let first = try PasswordHash.make("correct horse battery", cost: cheap), second = try PasswordHash.make("correct horse battery", cost: cheap)
        #expect(first != second, "a salt of its own per hash")
        #expect(first.hasPrefix("scrypt$10$8$1$") && !first.contains("correct"))
        #expect(PasswordHash.verify("correct horse battery", against: first))
        #expect(!PasswordHash.verify("correct horse batterY", against: first))
        #expect(!PasswordHash.verify("correct horse battery", against: "scrypt$30$8$1$AAAA$AAAA"), "a cost out of range matches nothing")
        #expect(!PasswordHash.verify("", against: "garbage"))
    }

    @Test func addUserReadsThePasswordFromStandardInputOnly() async throws {
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase())
        defer { relay.stop() }
        let clinic = try relay.admin(["add-clinic", "North"])
        let tool = productsDirectory.appendingPathComponent("hh-relay").path
        let short = try run(tool, ["admin", "add-user", "--clinic", clinic, "--email", "a@b.example"], environment: relay.environment, input: "short\n")
        #expect(short.status != 0 && short.stderr.contains("shorter than"))
        let none = try run(tool, ["admin", "add-user", "--clinic", clinic, "--email", "a@b.example"], environment: relay.environment, input: "")
        #expect(none.status != 0 && none.stderr.contains("no password"))
        let unknown = try run(tool, ["admin", "add-user", "--clinic", "nowhere", "--email", "a@b.example"], environment: relay.environment, input: "long enough password\n")
        #expect(unknown.status != 0 && unknown.stderr.contains("no clinic"))
        let added = try run(tool, ["admin", "add-user", "--clinic", clinic, "--email", "A@B.example", "--role", "admin"], environment: relay.environment, input: "long enough password\n")
        #expect(added.status == 0 && added.stdout.contains("added admin a@b.example"), "\(added.stderr)")
        let twice = try run(tool, ["admin", "add-user", "--clinic", clinic, "--email", "a@b.example"], environment: relay.environment, input: "long enough password\n")
        #expect(twice.status != 0 && twice.stderr.contains("already exists"))
        let client = WebClient(relay.url)
        #expect(try await client.signIn("a@b.example", password: "long enough password").status == 303)
        let reset = try run(tool, ["admin", "reset-password", "--email", "a@b.example"], environment: relay.environment, input: "a new long password\n")
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(try await client.get("/sessions").status == 303, "a reset signs the account out everywhere")
        #expect(try await WebClient(relay.url).signIn("a@b.example", password: "a new long password").status == 303)
        let removed = try run(tool, ["admin", "remove-user", "--email", "a@b.example"], environment: relay.environment)
        #expect(removed.status == 0)
        #expect(try await WebClient(relay.url).signIn("a@b.example", password: "a new long password").status == 401)
    }
}
