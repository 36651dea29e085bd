import Foundation
import Relay
import Testing

func storedSession(_ id: String, clinic: String, device: String, digest: String = "d1") -> StoredSession {
    StoredSession(
        id: id, clinicID: clinic, deviceID: device, startedAt: Date(timeIntervalSince1970: 1_800_000_000),
        endedAt: Date(timeIntervalSince1970: 1_800_000_030), digest: digest, document: #"{"id":"\#(id)"}"#, heartRateMedianBpm: 72)
}

/// One suite, both back ends: SQLite (embedded) and Postgres (production) must behave alike.
@Suite struct StoreContractTests {
    @Test(arguments: Backend.allCases)
    func migrationsAreRepeatableAndSafeSideBySide(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        defer { Task { await store.close() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { try await store.migrate() } }
            try await group.waitForAll()
        }
        try await store.migrate()
        try await store.ping()
        #expect(try await store.sessionCount() == 0)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func clinicsAndDevices(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        let device = try await store.addDevice(id: "dev-1", clinicID: clinic.id, name: "Lobby", secretHash: "abc")
        #expect(try await store.device(id: "dev-1") == device)
        #expect(try await store.device(id: "nobody") == nil)
        await #expect(throws: RelayStoreError.unknownClinic("no-such-clinic")) {
            try await store.addDevice(id: "dev-2", clinicID: "no-such-clinic", name: "x", secretHash: "y")
        }
        #expect(try await store.revokeDevice(id: "dev-1"))
        #expect(try await store.device(id: "dev-1")?.revokedAt != nil)
        #expect(try await !store.revokeDevice(id: "nobody"))
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func sessionsAreStoredOnceAndReplaysAreTold(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let north = try await store.addClinic(name: "North")
        let south = try await store.addClinic(name: "South")
        _ = try await store.addDevice(id: "n1", clinicID: north.id, name: "n1", secretHash: "h")
        _ = try await store.addDevice(id: "n2", clinicID: north.id, name: "n2", secretHash: "h")
        _ = try await store.addDevice(id: "s1", clinicID: south.id, name: "s1", secretHash: "h")
        let id = UUID().uuidString.lowercased()
        #expect(try await store.store(storedSession(id, clinic: north.id, device: "n1")) == .created)
        #expect(try await store.store(storedSession(id, clinic: north.id, device: "n1")) == .replayed)
        #expect(try await store.store(storedSession(id, clinic: north.id, device: "n2")) == .replayed)
        #expect(try await store.store(storedSession(id, clinic: north.id, device: "n1", digest: "d2")) == .conflict)
        #expect(try await store.store(storedSession(id, clinic: south.id, device: "s1")) == .otherClinic)
        #expect(try await store.sessionCount() == 1)
        let stored = try #require(try await store.session(id: id))
        #expect(stored.clinicID == north.id && stored.deviceID == "n1" && stored.digest == "d1" && stored.heartRateMedianBpm == 72)
        #expect(stored.startedAt == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(stored.document.contains(id))
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func concurrentUploadsOfOneSessionStoreItOnce(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        _ = try await store.addDevice(id: "n1", clinicID: clinic.id, name: "n1", secretHash: "h")
        let ids = (0..<10).map { _ in UUID().uuidString.lowercased() }
        let outcomes = try await withThrowingTaskGroup(of: StoreOutcome.self) { group in
            for id in ids { for _ in 0..<8 { group.addTask { try await store.store(storedSession(id, clinic: clinic.id, device: "n1")) } } }
            return try await group.reduce(into: [StoreOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .created }.count == ids.count)
        #expect(outcomes.filter { $0 == .replayed }.count == ids.count * 7)
        #expect(try await store.sessionCount() == ids.count)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func everyPathOfStoringASessionOrClaimingATurnWorksOnOneConnection(_ backend: Backend) async throws {
        // No operation may need two connections at once: on a pool whose every connection is
        // held by an operation waiting for a second, all wait for ever (10 s, then "database
        // unavailable"). On a pool of one, such an operation fails every time.
        let store = try backend.freshStore(poolSize: 1)
        try await store.migrate()
        let north = try await store.addClinic(name: "North"), south = try await store.addClinic(name: "South")
        _ = try await store.addDevice(id: "n1", clinicID: north.id, name: "n1", secretHash: "h")
        _ = try await store.addDevice(id: "s1", clinicID: south.id, name: "s1", secretHash: "h")
        let id = UUID().uuidString.lowercased()
        #expect(try await store.store(storedSession(id, clinic: north.id, device: "n1")) == .created)
        #expect(try await store.store(storedSession(id, clinic: north.id, device: "n1")) == .replayed)
        #expect(try await store.store(storedSession(id, clinic: north.id, device: "n1", digest: "d2")) == .conflict)
        #expect(try await store.store(storedSession(id, clinic: south.id, device: "s1")) == .otherClinic)
        // A turn of one clinic first, then the session from another.
        let later = UUID().uuidString.lowercased()
        let claim = TurnClaim(id: UUID().uuidString.lowercased(), sessionID: later, clinicID: south.id, deviceID: "s1", audioDigest: "a1")
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(60)) == .claimed)
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(60)) == .inProgress)
        #expect(try await store.store(storedSession(later, clinic: north.id, device: "n1")) == .otherClinic)
        var foreign = claim
        foreign.id = UUID().uuidString.lowercased()
        foreign.sessionID = id
        #expect(try await store.claimTurn(foreign, staleAfter: .seconds(60)) == .otherClinic)
        #expect(try await store.session(id: id) != nil)
        #expect(try await store.sessionCount() == 1)
        await store.close()
    }
}

/// The turns' contract, both back ends.
@Suite struct TurnStoreContractTests {
    private func turn(_ claim: TurnClaim, transcript: String = "what is my heart rate", started: Double = 1_800_000_000) -> StoredTurn {
        StoredTurn(
            id: claim.id, sessionID: claim.sessionID, clinicID: claim.clinicID, deviceID: claim.deviceID, startedAt: Date(timeIntervalSince1970: started),
            audioDigest: claim.audioDigest, transcript: transcript, replyText: "About 72.", escalationReason: nil, response: #"{"id":"\#(claim.id)"}"#)
    }

    @Test(arguments: Backend.allCases)
    func aTurnIsClaimedOnceAnsweredOnceAndToldApartFromOthers(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let north = try await store.addClinic(name: "North"), south = try await store.addClinic(name: "South")
        _ = try await store.addDevice(id: "n1", clinicID: north.id, name: "n1", secretHash: "h")
        _ = try await store.addDevice(id: "s1", clinicID: south.id, name: "s1", secretHash: "h")
        let session = UUID().uuidString.lowercased()
        let claim = TurnClaim(id: UUID().uuidString.lowercased(), sessionID: session, clinicID: north.id, deviceID: "n1", audioDigest: "a1")
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(60)) == .claimed)
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(60)) == .inProgress, "being answered elsewhere")
        #expect(try await store.turn(id: claim.id) == nil, "not answered yet")
        var other = claim
        other.audioDigest = "a2"
        #expect(try await store.claimTurn(other, staleAfter: .seconds(60)) == .conflict)
        var foreign = claim
        foreign.clinicID = south.id
        foreign.deviceID = "s1"
        #expect(try await store.claimTurn(foreign, staleAfter: .seconds(60)) == .otherClinic)
        var foreignTurnSameSession = foreign
        foreignTurnSameSession.id = UUID().uuidString.lowercased()
        #expect(try await store.claimTurn(foreignTurnSameSession, staleAfter: .seconds(60)) == .otherClinic, "the session is North's")

        let answered = turn(claim)
        try await store.completeTurn(answered)
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(60)) == .answered(answered))
        #expect(try await store.turn(id: claim.id) == answered)

        // A second turn, earlier in the session; the history comes in spoken order.
        let earlier = TurnClaim(id: UUID().uuidString.lowercased(), sessionID: session, clinicID: north.id, deviceID: "n1", audioDigest: "b1")
        #expect(try await store.claimTurn(earlier, staleAfter: .seconds(60)) == .claimed)
        try await store.completeTurn(turn(earlier, transcript: "hello", started: 1_799_999_990))
        #expect(try await store.turns(sessionID: session).map(\.transcript) == ["hello", "what is my heart rate"])
        // The session document from another clinic cannot take the id the turns use.
        #expect(try await store.store(storedSession(session, clinic: south.id, device: "s1")) == .otherClinic)
        #expect(try await store.store(storedSession(session, clinic: north.id, device: "n1")) == .created)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func abandonedAndStaleClaimsCanBeTakenAgain(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        _ = try await store.addDevice(id: "d1", clinicID: clinic.id, name: "d1", secretHash: "h")
        let claim = TurnClaim(id: UUID().uuidString.lowercased(), sessionID: UUID().uuidString.lowercased(), clinicID: clinic.id, deviceID: "d1", audioDigest: "a")
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(60)) == .claimed)
        try await store.abandonTurn(id: claim.id)
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(60)) == .claimed, "a retry after a failure answers anew")
        try await Task.sleep(for: .milliseconds(1_100))
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(1)) == .claimed, "its instance died: taken over")
        // The takeover renewed the claim: a second caller finds it fresh (however slow this machine is).
        #expect(try await store.claimTurn(claim, staleAfter: .seconds(60)) == .inProgress, "but only by one")
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func retainedTurnAudioExpires(_ backend: Backend) async throws {
        let store = try backend.freshStore()
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        _ = try await store.addDevice(id: "d1", clinicID: clinic.id, name: "d1", secretHash: "h")
        let claim = TurnClaim(id: UUID().uuidString.lowercased(), sessionID: UUID().uuidString.lowercased(), clinicID: clinic.id, deviceID: "d1", audioDigest: "a")
        _ = try await store.claimTurn(claim, staleAfter: .seconds(60))
        try await store.completeTurn(turn(claim))
        let keys = ["turns/x/question.wav", "turns/x/reply.wav"]
        try await store.retainTurnAudio(id: claim.id, keys: keys, until: Date(timeIntervalSince1970: 1_900_000_000))
        #expect(try await store.turn(id: claim.id)?.audioKeys == keys)
        #expect(try await store.turnsWithExpiredAudio(before: Date(timeIntervalSince1970: 1_899_999_999), limit: 10).isEmpty)
        #expect(try await store.turnsWithExpiredAudio(before: Date(timeIntervalSince1970: 1_900_000_001), limit: 10).map(\.id) == [claim.id])
        try await store.forgetTurnAudio(id: claim.id)
        #expect(try await store.turn(id: claim.id)?.audioKeys == [])
        #expect(try await store.turnsWithExpiredAudio(before: Date(timeIntervalSince1970: 1_900_000_001), limit: 10).isEmpty)
        await store.close()
    }
}
