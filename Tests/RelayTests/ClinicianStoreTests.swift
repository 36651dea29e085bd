import Foundation
import Relay
import Testing

/// A session of `clinic` at `device` that started `start` seconds after a fixed time.
func visitSession(_ id: String, clinic: String, device: String, start: Double, bpm: Double? = 72) -> StoredSession {
    StoredSession(
        id: id, clinicID: clinic, deviceID: device, startedAt: Date(timeIntervalSince1970: 1_800_000_000 + start),
        endedAt: Date(timeIntervalSince1970: 1_800_000_030 + start), digest: "d-\(id)",
        document: #"{"id":"\#(id)","summary":{"snr_median_db":7.5},"metadata":{"software_version":"0.9.\#(Int(start) % 7)"}}"#,
        heartRateMedianBpm: bpm)
}

/// Answers one turn of `session` (claim, then complete), escalated or not.
func answerTurn(_ store: any RelayStore, session: String, clinic: String, device: String, escalation: String? = nil, transcript: String = "hello") async throws -> StoredTurn {
    let id = UUID().uuidString.lowercased()
    let claim = TurnClaim(id: id, sessionID: session, clinicID: clinic, deviceID: device, audioDigest: "a-\(id)")
    #expect(try await store.claimTurn(claim, staleAfter: .seconds(30)) == .claimed)
    let turn = StoredTurn(
        id: id, sessionID: session, clinicID: clinic, deviceID: device, startedAt: Date(timeIntervalSince1970: 1_800_000_010), audioDigest: claim.audioDigest,
        transcript: transcript, replyText: "Hello.", escalationReason: escalation, response: "{}")
    try await store.completeTurn(turn)
    return turn
}

/// The web UI's part of the store contract, both back ends.
@Suite struct ClinicianStoreTests {
    @Test(arguments: Backend.allCases)
    func accountsAndWebSessions(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        let account = ClinicianAccount(id: "u1", clinicID: clinic.id, email: "Nurse@Example.org", role: .clinician, passwordHash: "h1")
        try await store.addAccount(account)
        #expect(try await store.account(email: "NURSE@example.org") == account, "e-mail addresses are matched in any case")
        await #expect(throws: AccountError.emailTaken("nurse@example.org")) {
            try await store.addAccount(ClinicianAccount(id: "u2", clinicID: clinic.id, email: "nurse@example.org", role: .admin, passwordHash: "h"))
        }
        await #expect(throws: RelayStoreError.unknownClinic("nowhere")) {
            try await store.addAccount(ClinicianAccount(id: "u3", clinicID: "nowhere", email: "x@example.org", role: .admin, passwordHash: "h"))
        }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let session = WebSession(tokenHash: "t1", userID: "u1", csrfToken: "c1", createdAt: now, lastSeenAt: now)
        try await store.createWebSession(session)
        let found = try #require(try await store.webSession(tokenHash: "t1"))
        #expect(found.0 == session && found.1 == account)
        try await store.touchWebSession(tokenHash: "t1", at: now.addingTimeInterval(120))
        #expect(try await store.webSession(tokenHash: "t1")?.0.lastSeenAt == now.addingTimeInterval(120))
        // A new password signs the account out everywhere.
        #expect(try await store.setPasswordHash(email: "nurse@example.org", hash: "h2"))
        #expect(try await store.webSession(tokenHash: "t1") == nil)
        #expect(try await store.account(email: "nurse@example.org")?.passwordHash == "h2")
        #expect(try await !store.setPasswordHash(email: "nobody@example.org", hash: "h"))
        // Expiry: idle and absolute.
        try await store.createWebSession(WebSession(tokenHash: "idle", userID: "u1", csrfToken: "c", createdAt: now, lastSeenAt: now))
        try await store.createWebSession(WebSession(tokenHash: "old", userID: "u1", csrfToken: "c", createdAt: now.addingTimeInterval(-86_400), lastSeenAt: now.addingTimeInterval(600)))
        try await store.createWebSession(WebSession(tokenHash: "fresh", userID: "u1", csrfToken: "c", createdAt: now, lastSeenAt: now.addingTimeInterval(600)))
        try await store.deleteExpiredWebSessions(lastSeenBefore: now.addingTimeInterval(300), createdBefore: now.addingTimeInterval(-3600))
        #expect(try await store.webSession(tokenHash: "idle") == nil)
        #expect(try await store.webSession(tokenHash: "old") == nil)
        #expect(try await store.webSession(tokenHash: "fresh") != nil)
        try await store.deleteWebSession(tokenHash: "fresh")
        #expect(try await store.webSession(tokenHash: "fresh") == nil)
        // Removing the account removes its sessions.
        try await store.createWebSession(WebSession(tokenHash: "last", userID: "u1", csrfToken: "c", createdAt: now, lastSeenAt: now))
        #expect(try await store.removeAccount(email: "Nurse@example.org"))
        #expect(try await store.webSession(tokenHash: "last") == nil)
        #expect(try await store.account(email: "nurse@example.org") == nil)
        #expect(try await !store.removeAccount(email: "nurse@example.org"))
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func visitsArePagedByKeyWithinOneClinic(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let north = try await store.addClinic(name: "North"), south = try await store.addClinic(name: "South")
        _ = try await store.addDevice(id: "n1", clinicID: north.id, name: "Lobby", secretHash: "h")
        _ = try await store.addDevice(id: "n2", clinicID: north.id, name: "Upstairs", secretHash: "h")
        _ = try await store.addDevice(id: "s1", clinicID: south.id, name: "South lobby", secretHash: "h")
        // 23 visits in North, some starting at the same second (the id breaks the tie), 5 in South.
        var northIDs: [String] = []
        for index in 0..<23 {
            let id = UUID().uuidString.lowercased()
            northIDs.append(id)
            #expect(try await store.store(visitSession(id, clinic: north.id, device: index % 3 == 0 ? "n2" : "n1", start: Double(index / 2) * 60)) == .created)
        }
        for index in 0..<5 {
            _ = try await store.store(visitSession(UUID().uuidString.lowercased(), clinic: south.id, device: "s1", start: Double(index) * 60))
        }
        // Every North visit once, newest first, in pages of 5; none of South's.
        var seen: [VisitListing] = []
        var query = VisitQuery(clinicID: north.id, limit: 5)
        while true {
            let page = try await store.visits(query)
            seen += page
            guard page.count == 5 else { break }
            query.after = page.last!.cursor
        }
        #expect(seen.count == 23 && Set(seen.map(\.id)) == Set(northIDs))
        #expect(zip(seen, seen.dropFirst()).allSatisfy { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }, "newest first, ties by id")
        #expect(seen.first?.snrMedianDb == 7.5 && seen.first?.deviceName != nil)
        // Filters: one kiosk, a time range.
        let upstairs = try await store.visits(VisitQuery(clinicID: north.id, deviceID: "n2", limit: 100))
        #expect(upstairs.count == 8 && upstairs.allSatisfy { $0.deviceID == "n2" && $0.deviceName == "Upstairs" })
        let range = try await store.visits(VisitQuery(
            clinicID: north.id, from: Date(timeIntervalSince1970: 1_800_000_000 + 120), until: Date(timeIntervalSince1970: 1_800_000_000 + 300), limit: 100))
        #expect(range.count == 6, "minutes 2, 3 and 4: two visits each")
        #expect(try await store.visits(VisitQuery(clinicID: north.id, deviceID: "s1", limit: 100)).isEmpty, "another clinic's kiosk lists nothing")
        #expect(try await store.visit(id: northIDs[0], clinicID: south.id) == nil)
        #expect(try await store.visit(id: northIDs[0], clinicID: north.id)?.id == northIDs[0])
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func escalationsArePinnedUntilAcknowledged(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let north = try await store.addClinic(name: "North"), south = try await store.addClinic(name: "South")
        _ = try await store.addDevice(id: "n1", clinicID: north.id, name: "Lobby", secretHash: "h")
        _ = try await store.addDevice(id: "s1", clinicID: south.id, name: "South", secretHash: "h")
        let calm = UUID().uuidString.lowercased(), urgent = UUID().uuidString.lowercased(), theirs = UUID().uuidString.lowercased()
        _ = try await store.store(visitSession(calm, clinic: north.id, device: "n1", start: 0))
        _ = try await store.store(visitSession(urgent, clinic: north.id, device: "n1", start: 60))
        _ = try await store.store(visitSession(theirs, clinic: south.id, device: "s1", start: 0))
        _ = try await answerTurn(store, session: calm, clinic: north.id, device: "n1")
        _ = try await answerTurn(store, session: urgent, clinic: north.id, device: "n1")
        _ = try await answerTurn(store, session: urgent, clinic: north.id, device: "n1", escalation: "chest_pain")
        _ = try await answerTurn(store, session: theirs, clinic: south.id, device: "s1", escalation: "chest_pain")

        let listed = try await store.visits(VisitQuery(clinicID: north.id))
        #expect(listed.map(\.id) == [urgent, calm])
        #expect(listed[0].escalated && listed[0].turnCount == 2 && !listed[1].escalated && listed[1].turnCount == 1)
        #expect(try await store.unacknowledgedEscalations(clinicID: north.id, limit: 10).map(\.id) == [urgent])
        // Not the calm visit, not another clinic's.
        #expect(try await !store.acknowledgeEscalation(sessionID: calm, clinicID: north.id, userID: "u", at: Date()))
        #expect(try await !store.acknowledgeEscalation(sessionID: theirs, clinicID: north.id, userID: "u", at: Date()))
        #expect(try await store.unacknowledgedEscalations(clinicID: south.id, limit: 10).map(\.id) == [theirs])
        let when = Date(timeIntervalSince1970: 1_800_001_000)
        #expect(try await store.acknowledgeEscalation(sessionID: urgent, clinicID: north.id, userID: "u", at: when))
        #expect(try await store.acknowledgeEscalation(sessionID: urgent, clinicID: north.id, userID: "v", at: when.addingTimeInterval(5)), "twice keeps the first")
        #expect(try await store.unacknowledgedEscalations(clinicID: north.id, limit: 10).isEmpty)
        #expect(try await store.visit(id: urgent, clinicID: north.id)?.acknowledgedAt == when)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func kiosksAndTheAuditLog(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let north = try await store.addClinic(name: "North"), south = try await store.addClinic(name: "South")
        _ = try await store.addDevice(id: "n1", clinicID: north.id, name: "Lobby", secretHash: "h")
        _ = try await store.addDevice(id: "n2", clinicID: north.id, name: "Annex", secretHash: "h")
        _ = try await store.addDevice(id: "s1", clinicID: south.id, name: "South", secretHash: "h")
        _ = try await store.store(visitSession(UUID().uuidString.lowercased(), clinic: north.id, device: "n1", start: 0))
        _ = try await store.store(visitSession(UUID().uuidString.lowercased(), clinic: north.id, device: "n1", start: 3600))
        let kiosks = try await store.kiosks(clinicID: north.id, sessionsSince: Date(timeIntervalSince1970: 1_800_000_000 + 1800))
        #expect(kiosks.map(\.device.id) == ["n2", "n1"], "by name, this clinic's only")
        #expect(kiosks[1].sessionsSince == 1 && kiosks[1].softwareVersion == "0.9.2" && kiosks[1].lastContact != nil)
        #expect(kiosks[0].sessionsSince == 0 && kiosks[0].lastContact == nil && kiosks[0].softwareVersion == nil)

        for index in 0..<7 {
            try await store.appendAudit(AuditEntry(
                at: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)), clinicID: index == 3 ? south.id : north.id, userID: "u", email: "a@b.c",
                action: "view_visit", subject: "s\(index)", address: "10.0.0.1"))
        }
        let first = try await store.audit(clinicID: north.id, before: nil, limit: 4)
        #expect(first.map(\.subject) == ["s6", "s5", "s4", "s2"])
        let rest = try await store.audit(clinicID: north.id, before: first.last?.sequence, limit: 4)
        #expect(rest.map(\.subject) == ["s1", "s0"])
        #expect(first[0].at == Date(timeIntervalSince1970: 1_800_000_006) && first[0].address == "10.0.0.1")
        await store.close()
    }
}
