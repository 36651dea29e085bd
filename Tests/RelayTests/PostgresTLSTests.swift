import Foundation
import Logging
import Relay
import Testing
import TestSupport

/// The Postgres pool over TLS when the URL asks (the test server offers TLS with a
/// self-signed certificate for 127.0.0.1: scripts/with-postgres.sh).
@Suite(.serialized) struct PostgresTLSTests {
    func url(_ mode: String, root: String? = nil) throws -> String {
        let database = try Backend.postgres.freshDatabase()["HH_RELAY_DATABASE_URL"]!
        var text = database.replacingOccurrences(of: "sslmode=disable", with: "sslmode=\(mode)")
        if let root { text += "&sslrootcert=\(root)" }
        return text
    }

    func encryptedConnections() throws -> Int {
        let result = try run("/usr/bin/psql", [Backend.postgresServer!, "-tAc", "SELECT COUNT(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND datname LIKE 'relay_%'"])
        return Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test func requireEncryptsAndVerifyFullChecksTheCertificate() async throws {
        let ca = try #require(ProcessInfo.processInfo.environment["HH_TEST_POSTGRES_CA"], "run with scripts/with-postgres.sh")
        for text in [try url("require"), try url("verify-full", root: ca)] {
            var configuration = RelayConfiguration()
            try configuration.apply(["HH_RELAY_DATABASE_URL": text])
            let store = try RelayStores.open(configuration: configuration, logger: Logger(label: "test"))
            try await store.migrate()
            try await store.ping()
            #expect(try encryptedConnections() >= 1, "the pool's connection is encrypted (\(text))")
            await store.close()
        }
    }

    @Test func verifyFullRefusesAnUntrustedCertificate() async throws {
        var configuration = RelayConfiguration()
        try configuration.apply(["HH_RELAY_DATABASE_URL": try url("verify-full")])
        let store = try RelayStores.open(configuration: configuration, logger: Logger(label: "test"))
        let start = ContinuousClock.now
        await #expect(throws: RelayStoreError.self) { try await store.ping() }
        // It must fail, not hang; 15 s was missed by 0.45 s on a loaded CI machine, so the bound is wider.
        #expect(ContinuousClock.now - start < .seconds(30), "a database that cannot be reached fails within the deadline, not never")
        await store.close()
    }
}
