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
}
