import Foundation
import Logging
import Relay
import TestSupport
import Testing

/// The two storage back ends the contract tests run against: the embedded one (SQLite and a
/// local folder for objects) and the production one (Postgres and S3).
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { self == .sqlite ? "sqlite+folder" : "postgres+s3" }

    /// The test Postgres server (`make test` starts one: scripts/with-postgres.sh).
    static var postgresServer: String? { ProcessInfo.processInfo.environment["HH_TEST_POSTGRES_URL"] }

    /// The test S3 server's settings for a relay, under a prefix of its own (`make test`
    /// starts one: scripts/with-s3.sh). `readOnly` picks the user that may only read.
    static func s3Environment(readOnly: Bool = false) throws -> [String: String] {
        let environment = ProcessInfo.processInfo.environment
        let user = readOnly ? "HH_TEST_S3_READONLY" : "HH_TEST_S3"
        guard let endpoint = environment["HH_TEST_S3_ENDPOINT"], let bucket = environment["HH_TEST_S3_BUCKET"],
              let key = environment[user + "_ACCESS_KEY_ID"], let secret = environment[user + "_SECRET_ACCESS_KEY"]
        else { throw TestSetupError("no test S3 server: run the tests with scripts/with-s3.sh (make test does)") }
        return [
            "HH_RELAY_S3_BUCKET": bucket, "HH_RELAY_S3_ENDPOINT": endpoint, "HH_RELAY_S3_REGION": "us-east-1",
            "HH_RELAY_S3_PREFIX": "test-\(UUID().uuidString.prefix(8).lowercased())/",
            "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
        ]
    }

    /// A fresh, empty database of this kind: for Postgres a new database on the test server,
    /// for SQLite a new folder. Returns the environment a relay process needs to use it.
    func freshDatabase() throws -> [String: String] {
        switch self {
        case .sqlite:
            let directory = NSTemporaryDirectory() + "relay-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return ["HH_RELAY_DATA_DIR": directory]
        case .postgres:
            guard let server = Self.postgresServer else {
                throw TestSetupError("no test Postgres server: run the tests with scripts/with-postgres.sh (make test does)")
            }
            let name = "relay_\(UUID().uuidString.prefix(8).lowercased())"
            let result = try run("/usr/bin/psql", [server, "-q", "-c", "CREATE DATABASE \(name)"])
            guard result.status == 0 else { throw TestSetupError("creating a database: \(result.stderr)") }
            // A data folder too, though nothing goes in it: objects go to S3.
            let directory = NSTemporaryDirectory() + "relay-\(UUID().uuidString.prefix(8))"
            return try Self.s3Environment().merging([
                "HH_RELAY_DATABASE_URL": server.replacingOccurrences(of: "/postgres?", with: "/\(name)?"), "HH_RELAY_DATA_DIR": directory,
            ]) { $1 }
        }
    }

    /// The object store a relay with `environment` uses.
    static func objects(_ environment: [String: String]) throws -> any ObjectStore {
        var configuration = RelayConfiguration()
        try configuration.apply(environment)
        return try RelayStores.openObjects(configuration: configuration, environment: environment, logger: Logger(label: "test"))
    }

    /// A store on a fresh database, with at most `poolSize` connections to it (Postgres).
    func freshStore(poolSize: Int = RelayConfiguration().databasePoolSize) throws -> any RelayStore {
        var configuration = RelayConfiguration()
        try configuration.apply(freshDatabase())
        configuration.databasePoolSize = poolSize
        var logger = Logger(label: "test")
        logger.logLevel = .error
        return try RelayStores.open(configuration: configuration, logger: logger)
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The folder of the built products.
let productsDirectory: URL = {
    let bundle = try! FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    return URL(fileURLWithPath: bundle).deletingLastPathComponent()
}()

/// The repository's root.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
