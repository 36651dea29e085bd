import Foundation
import Logging
import Relay
import Testing

/// The two storage back ends the contract tests run against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// The test Postgres server (`make test` starts one: scripts/with-postgres.sh).
    static var postgresServer: String? { ProcessInfo.processInfo.environment["HH_TEST_POSTGRES_URL"] }

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
            return ["HH_RELAY_DATABASE_URL": server.replacingOccurrences(of: "/postgres?", with: "/\(name)?")]
        }
    }

    /// A store on a fresh database.
    func freshStore() throws -> any RelayStore {
        var configuration = RelayConfiguration()
        try configuration.apply(freshDatabase())
        var logger = Logger(label: "test")
        logger.logLevel = .error
        return try RelayStores.open(configuration: configuration, logger: logger)
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program to its end.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// The folder of the built products.
let productsDirectory: URL = {
    let bundle = try! FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    return URL(fileURLWithPath: bundle).deletingLastPathComponent()
}()

/// The repository's root.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
