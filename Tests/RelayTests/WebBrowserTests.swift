import Foundation
import Relay
import TestSupport
import Testing

/// The web UI in a real headless Chromium (Tests/web/browser_test.py, Selenium and axe-core):
/// what a clinician does, by mouse, keyboard and without JavaScript. Screenshots of every page
/// at tablet and desktop widths go to out/web-screenshots.
@Suite struct WebBrowserTests {
    @Test func aClinicianUsesTheUIInARealBrowser() async throws {
        let fixture = try await WebFixture(backend: .sqlite)
        defer { fixture.relay.stop() }
        let liveID = UUID().uuidString.lowercased()
        let facts: [String: String] = [
            "url": fixture.relay.url, "password": WebFixture.password, "nurse": "nurse@north.example", "admin": "admin@north.example",
            "other": "nurse@south.example", "escalated": fixture.escalatedVisit, "markup": fixture.markupVisit, "markup_text": WebFixture.markup,
            "audio": "/sessions/\(fixture.escalatedVisit)/turns/\(fixture.turnWithAudio.id)/audio/patient", "kiosk": fixture.northDevice,
            "live_id": liveID, "live_token": fixture.northToken,
            "live_session": String(decoding: WebFixture.visitDocument(id: liveID, start: 1_900_000_000, minutes: 1), as: UTF8.self),
        ]
        let screenshots = repositoryRoot.appendingPathComponent("out/web-screenshots").path
        let result = try run(
            "/usr/bin/env",
            ["python3", repositoryRoot.appendingPathComponent("Tests/web/browser_test.py").path,
             String(decoding: try JSONSerialization.data(withJSONObject: facts), as: UTF8.self), "--screenshots", screenshots])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(4000))")
        #expect(result.stdout.contains("0 failures"), "\(result.stdout)")
        await fixture.stop()
    }
}
