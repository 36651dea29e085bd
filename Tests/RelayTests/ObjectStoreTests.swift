import AWSSigning
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Relay
import Testing
import TestSupport

/// One suite, both object stores: the local folder (embedded) and S3 (production, here moto
/// checking signatures and IAM policies).
@Suite struct ObjectStoreContractTests {
    static func freshStore(_ backend: Backend) throws -> any ObjectStore {
        switch backend {
        case .sqlite: return try LocalFolderObjectStore(root: NSTemporaryDirectory() + "objects-\(UUID().uuidString.prefix(8))")
        case .postgres: return try Backend.objects(try Backend.s3Environment())
        }
    }

    @Test(arguments: Backend.allCases)
    func putGetReplaceDelete(_ backend: Backend) async throws {
        let objects = try Self.freshStore(backend)
        let key = try ObjectKey("sessions/clinic-1/abc/0123.json")
        #expect(try await objects.get(key) == nil)
        let everyByte = ByteBuffer(bytes: (0..<4096).map { UInt8($0 % 256) })
        try await objects.put(everyByte, at: key, contentType: "application/octet-stream")
        #expect(try await objects.get(key) == everyByte)
        try await objects.put(ByteBuffer(string: "second"), at: key, contentType: "text/plain")
        #expect(try await objects.get(key) == ByteBuffer(string: "second"))
        try await objects.delete(key)
        #expect(try await objects.get(key) == nil)
        try await objects.delete(key)
        try await objects.put(ByteBuffer(), at: key, contentType: "text/plain")
        #expect(try await objects.get(key) == ByteBuffer())
    }

    @Test(arguments: Backend.allCases)
    func manyConcurrentPutsKeepEveryObjectWhole(_ backend: Backend) async throws {
        let objects = try Self.freshStore(backend)
        let large = ByteBuffer(bytes: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<24 {
                group.addTask {
                    let body = index == 0 ? large : ByteBuffer(string: "object \(index)")
                    try await objects.put(body, at: try ObjectKey("many/\(index % 4)/\(index).bin"), contentType: "application/octet-stream")
                }
            }
            try await group.waitForAll()
        }
        #expect(try await objects.get(try ObjectKey("many/0/0.bin")) == large)
        for index in 1..<24 {
            #expect(try await objects.get(try ObjectKey("many/\(index % 4)/\(index).bin")) == ByteBuffer(string: "object \(index)"))
        }
    }

    @Test(arguments: Backend.allCases)
    func listingFindsWhatIsUnderAPrefixWithItsTime(_ backend: Backend) async throws {
        let objects = try Self.freshStore(backend)
        let before = Date().addingTimeInterval(-120)
        // More than one page of S3's listing (1000 keys) would take long on moto: 30 keys, and
        // keys under a neighbouring prefix that must not be listed.
        for index in 0..<30 { try await objects.put(ByteBuffer(string: "\(index)"), at: try ObjectKey("sessions/c1/s\(index).json"), contentType: "text/plain") }
        try await objects.put(ByteBuffer(string: "x"), at: try ObjectKey("sessionsX/other.json"), contentType: "text/plain")
        try await objects.put(ByteBuffer(string: "p"), at: try ObjectKey("probes/p1"), contentType: "text/plain")
        let listed = try await objects.list(prefix: "sessions/")
        #expect(Set(listed.map(\.key.text)) == Set((0..<30).map { "sessions/c1/s\($0).json" }))
        #expect(listed.allSatisfy { $0.modified > before && $0.modified < Date().addingTimeInterval(120) })
        #expect(try await objects.list(prefix: "probes/").map(\.key.text) == ["probes/p1"])
        #expect(try await objects.list(prefix: "nothing/").isEmpty)
        await objects.shutdown()
    }

    @Test func keysThatCouldEscapeOrConfuseAreRefused() {
        for bad in ["", "/a", "a/", "a//b", "../etc/passwd", "a/../b", "a/./b", ".", "a b", "a?b", "a%2Fb", "ключ", String(repeating: "a", count: 600)] {
            #expect(throws: ObjectStoreError.badKey(bad)) { try ObjectKey(bad) }
        }
        #expect((try? ObjectKey("sessions/c-1/s_2/x.y.json")) != nil)
    }

    @Test func aFolderThatCannotBeWrittenIsUnavailableNotACrash() async throws {
        let root = NSTemporaryDirectory() + "objects-\(UUID().uuidString.prefix(8))"
        let objects = try LocalFolderObjectStore(root: root)
        // A file where the object's folder would go: the write fails as a full or broken disk would.
        #expect(FileManager.default.createFile(atPath: root + "/sessions", contents: Data("in the way".utf8)))
        await #expect {
            try await objects.put(ByteBuffer(string: "x"), at: try ObjectKey("sessions/a/b.json"), contentType: "text/plain")
        } throws: { error in
            guard case ObjectStoreError.unavailable(let message) = error else { return false }
            return message.contains("sessions")
        }
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }
}

/// What S3 itself refuses, and an S3 that is not there: each a clear error of the right kind.
@Suite struct S3FailureTests {
    func store(_ change: (inout [String: String]) -> Void) throws -> any ObjectStore {
        var environment = try Backend.s3Environment()
        change(&environment)
        return try Backend.objects(environment)
    }

    @Test func aWrongSecretIsRefusedBySignatureCheck() async throws {
        let objects = try store { $0["AWS_SECRET_ACCESS_KEY"]! += "x" }
        await #expect { try await objects.put(ByteBuffer(string: "x"), at: try ObjectKey("a.json"), contentType: "text/plain") } throws: { error in
            guard case ObjectStoreError.refused(let message) = error else { return false }
            return message.contains("SignatureDoesNotMatch")
        }
    }

    @Test func anUnknownKeyIsRefused() async throws {
        let objects = try store { $0["AWS_ACCESS_KEY_ID"] = "AKIANOSUCHKEY0000000" }
        await #expect { _ = try await objects.get(try ObjectKey("a.json")) } throws: { error in
            guard case ObjectStoreError.refused(let message) = error else { return false }
            return message.contains("InvalidAccessKeyId")
        }
    }

    @Test func aUserWithoutWritePermissionIsRefused() async throws {
        let objects = try Backend.objects(try Backend.s3Environment(readOnly: true))
        #expect(try await objects.get(try ObjectKey("nothing.json")) == nil, "reading is allowed")
        await #expect { try await objects.put(ByteBuffer(string: "x"), at: try ObjectKey("a.json"), contentType: "text/plain") } throws: { error in
            guard case ObjectStoreError.refused(let message) = error else { return false }
            return message.contains("AccessDenied")
        }
    }

    @Test func aMissingBucketIsRefused() async throws {
        let objects = try store { $0["HH_RELAY_S3_BUCKET"] = "no-such-bucket-here" }
        await #expect { try await objects.put(ByteBuffer(string: "x"), at: try ObjectKey("a.json"), contentType: "text/plain") } throws: { error in
            guard case ObjectStoreError.refused = error else { return false }
            return true
        }
    }

    @Test func anUnreachableEndpointIsUnavailable() async throws {
        let objects = try store { $0["HH_RELAY_S3_ENDPOINT"] = "http://127.0.0.1:\(freePort())" }
        await #expect { _ = try await objects.get(try ObjectKey("a.json")) } throws: { error in
            guard case ObjectStoreError.unavailable = error else { return false }
            return true
        }
    }

    /// The relay will not start with a store it may not write to, and says why.
    @Test func aRelayThatMayNotWriteItsBucketStopsAtStartSayingWhy() throws {
        var environment = try Backend.sqlite.freshDatabase()
        environment.merge(try Backend.s3Environment(readOnly: true)) { $1 }
        environment["HH_RELAY_PORT"] = String(freePort())
        let result = try run(productsDirectory.appendingPathComponent("hh-relay").path, ["serve"], environment: environment)
        #expect(result.status != 0)
        #expect((result.stdout + result.stderr).contains("AccessDenied"), "\(result.stdout)\(result.stderr)")
    }

    /// With the object store gone, uploads answer 503 with Retry-After and store nothing; the
    /// kiosk retries later and loses nothing.
    @Test func uploadsWaitForTheObjectStore() async throws {
        let s3 = try Backend.s3Environment()
        let relay = try RelayProcess(environment: try Backend.sqlite.freshDatabase().merging(s3) { $1 })
        defer { relay.stop() }
        let device = try relay.clinicWithDevice("North")
        relay.stop()
        // The same relay and database, but S3 now unreachable.
        let broken = try RelayProcess(environment: relay.environment, extra: ["HH_RELAY_S3_ENDPOINT": "http://127.0.0.1:\(freePort())"])
        defer { broken.stop() }
        let id = UUID().uuidString.lowercased()
        let (status, headers, body) = try await http("POST", broken.url + "/v1/sessions", headers: [("Authorization", "Bearer \(device.token)")], body: sessionJSON(id: id))
        #expect(status == 503 && headers.first(name: "Retry-After") != nil && errorCode(body) == "unavailable")
        broken.stop()
        let back = try RelayProcess(environment: relay.environment)
        defer { back.stop() }
        let retried = try await http("POST", back.url + "/v1/sessions", headers: [("Authorization", "Bearer \(device.token)")], body: sessionJSON(id: id))
        #expect(retried.0 == 201)
    }
}

@Suite struct ObjectStoreConfigurationTests {
    @Test func s3SettingsAreReadAndCheckedByName() throws {
        var configuration = RelayConfiguration()
        try configuration.apply(["AWS_REGION": "eu-central-1", "HH_RELAY_S3_BUCKET": "clinic-docs", "HH_RELAY_S3_PREFIX": "prod"])
        #expect(configuration.s3 == S3Location(bucket: "clinic-docs", prefix: "prod/", region: "eu-central-1"))
        try configuration.apply(["HH_RELAY_S3_ENDPOINT": "http://127.0.0.1:9000"])
        #expect(configuration.s3?.endpoint == "http://127.0.0.1:9000" && configuration.s3?.prefix == "prod/", "a later layer adds to the bucket set before")

        for (values, name) in [
            (["HH_RELAY_S3_BUCKET": "Bad_Bucket"], "HH_RELAY_S3_BUCKET"),
            (["HH_RELAY_S3_BUCKET": "ok-bucket", "HH_RELAY_S3_REGION": "EU WEST"], "HH_RELAY_S3_REGION"),
            (["HH_RELAY_S3_BUCKET": "ok-bucket", "HH_RELAY_S3_PREFIX": "../up"], "HH_RELAY_S3_PREFIX"),
            (["HH_RELAY_S3_BUCKET": "ok-bucket", "HH_RELAY_S3_ENDPOINT": "ftp://x"], "HH_RELAY_S3_ENDPOINT"),
            (["HH_RELAY_S3_PREFIX": "prod/"], "HH_RELAY_S3_PREFIX"),
        ] {
            var fresh = RelayConfiguration()
            #expect(throws: RelayConfigurationError.self) { try fresh.apply(values) }
            do { try fresh.apply(values) } catch { #expect(error.name == name) }
        }
        #expect(RelayConfiguration().s3 == nil, "no configuration: a local folder")
    }

    @Test func s3AddressesArePathStyleForEndpointsAndVirtualHostedForAWS() throws {
        let key = try ObjectKey("sessions/c1/s1/d.json")
        let aws = S3Location(bucket: "docs", prefix: "p/", region: "eu-west-1")
        #expect(aws.address(of: key) == ("https://docs.s3.eu-west-1.amazonaws.com", "docs.s3.eu-west-1.amazonaws.com", "/p/sessions/c1/s1/d.json"))
        let local = S3Location(bucket: "docs", region: "us-east-1", endpoint: "http://127.0.0.1:9000")
        #expect(local.address(of: key) == ("http://127.0.0.1:9000", "127.0.0.1:9000", "/docs/sessions/c1/s1/d.json"))
    }

    @Test func s3WithoutCredentialsIsAnErrorAtStart() {
        var configuration = RelayConfiguration()
        configuration.s3 = S3Location(bucket: "docs", region: "eu-west-1")
        #expect(throws: AWSCredentialsError.self) {
            try RelayStores.openObjects(configuration: configuration, environment: ["HOME": "/nonexistent"], logger: Logger(label: "test"))
        }
    }
}

@Suite struct SessionExportTests {
    @Test func theDocumentOfRecordIsCheckedAgainstItsDigest() async throws {
        let store = try Backend.sqlite.freshStore()
        try await store.migrate()
        let clinic = try await store.addClinic(name: "North")
        _ = try await store.addDevice(id: "n1", clinicID: clinic.id, name: "n1", secretHash: "h")
        let id = UUID().uuidString.lowercased()
        let bytes = sessionJSON(id: id)
        let digest = SigV4Encoding.payloadHash(bytes)
        #expect(try await store.store(storedSession(id, clinic: clinic.id, device: "n1", digest: digest)) == .created)
        let objects = try ObjectStoreContractTests.freshStore(.sqlite)
        await #expect(throws: SessionExport.Failure.self, "no document yet") {
            try await SessionExport.documentOfRecord(sessionID: id, store: store, objects: objects)
        }
        let key = try ObjectKey.sessionDocument(clinicID: clinic.id, sessionID: id, digest: digest)
        try await objects.put(ByteBuffer(data: bytes), at: key, contentType: "application/json")
        #expect(try await SessionExport.documentOfRecord(sessionID: id, store: store, objects: objects) == bytes)
        try await objects.put(ByteBuffer(data: bytes + Data(" ".utf8)), at: key, contentType: "application/json")
        await #expect { try await SessionExport.documentOfRecord(sessionID: id, store: store, objects: objects) } throws: { error in
            "\(error)".contains("damaged")
        }
        await store.close()
    }
}
