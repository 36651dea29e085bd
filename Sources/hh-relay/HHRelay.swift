import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HHProtocol
import Logging
import Metrics
import Relay
import ServiceLifecycle

/// `hh-relay`: the cloud relay. A thin shell over ``Relay``.
@main
struct HHRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hh-relay",
        abstract: "The Health Helper relay: the device API kiosks deliver their sessions to.",
        discussion: "Settings come from environment variables (\(RelayConfiguration.variables.map(\.name).joined(separator: ", "))), an --env-file, and flags, in rising precedence.",
        subcommands: [Serve.self, Migrate.self, Admin.self],
        defaultSubcommand: Serve.self
    )
}

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "Folder of the embedded SQLite database (HH_RELAY_DATA_DIR; default data).")
    var dataDir: String?

    @Option(help: "postgres:// URL; unset: SQLite in the data folder (HH_RELAY_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "A file of KEY=VALUE lines with the same variables as the environment.")
    var envFile: String?

    /// Environment, then the env file, then the flags.
    func configuration(extra: [String: String] = [:]) throws -> RelayConfiguration {
        // Every file the relay creates (database, WAL, objects) is readable by its user only.
        umask(0o077)
        var configuration = RelayConfiguration()
        do {
            try configuration.apply(ProcessInfo.processInfo.environment)
            if let envFile { try configuration.apply(try RelayConfiguration.readEnvFile(envFile)) }
            var flags = extra
            if let dataDir { flags["HH_RELAY_DATA_DIR"] = dataDir }
            if let databaseURL { flags["HH_RELAY_DATABASE_URL"] = databaseURL }
            try configuration.apply(flags)
        } catch {
            FileHandle.standardError.write(Data("hh-relay: configuration error: \(error)\n".utf8))
            throw ExitCode(78)
        }
        return configuration
    }

    /// JSON log lines on stdout.
    func logger(_ configuration: RelayConfiguration) -> Logger {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
        return Logger(label: "hh-relay")
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the device API (migrating the database first).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Address to listen on (HH_RELAY_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port (HH_RELAY_PORT; default 8080).")
    var port: String?

    func run() async throws {
        var flags: [String: String] = [:]
        if let host { flags["HH_RELAY_HOST"] = host }
        if let port { flags["HH_RELAY_PORT"] = port }
        let configuration = try common.configuration(extra: flags)
        let logger = common.logger(configuration)
        let metrics = RelayServer.makeMetrics()
        MetricsSystem.bootstrap(metrics.factory)
        do {
            try await RelayServer.run(configuration: configuration, registry: metrics.registry, logger: logger)
        } catch {
            logger.critical("hh-relay failed", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bring the database schema to the current version (safe from several instances at once).")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await withStore(common) { store in
            try await store.migrate()
            print("database schema is current")
        }
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage clinics, devices and clinician accounts; export what a kiosk sent.",
        subcommands: [
            AddClinic.self, AddDevice.self, RevokeDevice.self, ExportSession.self, AddUser.self, RemoveUser.self, ResetPassword.self, Jobs.self,
            Summary.self,
        ])

    struct AddClinic: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-clinic", abstract: "Add a clinic; prints its id as the last line.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The clinic's name.") var name: String

        func run() async throws {
            try await withStore(common) { store in
                try await store.migrate()
                let clinic = try await store.addClinic(name: name)
                print("added clinic \"\(clinic.name)\"")
                print(clinic.id)
            }
        }
    }

    struct AddDevice: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-device",
            abstract: "Add a kiosk to a clinic; prints its device token (shown only now) as the last line.")
        @OptionGroup var common: CommonOptions
        @Option(help: "The clinic's id.") var clinic: String
        @Option(help: "The kiosk's name.") var name: String

        func run() async throws {
            try await withStore(common) { store in
                try await store.migrate()
                let token = DeviceToken.mint(deviceID: RandomID.uuid())
                do {
                    _ = try await store.addDevice(id: token.deviceID, clinicID: clinic, name: name, secretHash: token.secretHash)
                } catch let error as RelayStoreError {
                    FileHandle.standardError.write(Data("hh-relay: \(error)\n".utf8))
                    throw ExitCode.failure
                }
                print("added device \(token.deviceID) \"\(name)\"; its token is shown only once:")
                print(token.text)
            }
        }
    }

    struct RevokeDevice: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-device", abstract: "Revoke a device: its token stops working.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The device's id.") var device: String

        func run() async throws {
            try await withStore(common) { store in
                try await store.migrate()
                guard try await store.revokeDevice(id: device) else {
                    FileHandle.standardError.write(Data("hh-relay: no device with id \(device)\n".utf8))
                    throw ExitCode.failure
                }
                print("revoked device \(device)")
            }
        }
    }
}

extension Admin {
    struct ExportSession: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-session",
            abstract: "Print a session's document of record: the exact bytes its kiosk sent, checked against their SHA-256.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The session's id.") var session: String

        func run() async throws {
            try await withStore(common) { store, objects in
                let bytes = try await SessionExport.documentOfRecord(sessionID: session.lowercased(), store: store, objects: objects)
                FileHandle.standardOutput.write(bytes)
            }
        }
    }
}

extension Admin {
    struct AddUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-user",
            abstract: "Add a clinician or admin account for the web UI; the password is read from standard input (one line).")
        @OptionGroup var common: CommonOptions
        @Option(help: "The clinic's id.") var clinic: String
        @Option(help: "The person's e-mail address (their sign-in).") var email: String
        @Option(help: "clinician (reviews visits) or admin (also kiosks and the audit log).") var role: ClinicianRole = .clinician

        func run() async throws {
            let password = try readPassword()
            try await withStore(common) { store in
                try await store.migrate()
                let account = ClinicianAccount(id: RandomID.uuid(), clinicID: clinic, email: email, role: role, passwordHash: try PasswordHash.make(password))
                do { try await store.addAccount(account) } catch let error as RelayStoreError {
                    fail("\(error)")
                } catch let error as AccountError {
                    fail("\(error)")
                }
                print("added \(role.rawValue) \(account.email)")
            }
        }
    }

    struct RemoveUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-user", abstract: "Remove an account; it is signed out everywhere.")
        @OptionGroup var common: CommonOptions
        @Option(help: "The account's e-mail address.") var email: String

        func run() async throws {
            try await withStore(common) { store in
                try await store.migrate()
                guard try await store.removeAccount(email: email) else { fail("no account with e-mail \(email)") }
                print("removed \(email.lowercased())")
            }
        }
    }

    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-password",
            abstract: "Set an account's password from standard input (one line); it is signed out everywhere.")
        @OptionGroup var common: CommonOptions
        @Option(help: "The account's e-mail address.") var email: String

        func run() async throws {
            let password = try readPassword()
            try await withStore(common) { store in
                try await store.migrate()
                guard try await store.setPasswordHash(email: email, hash: try PasswordHash.make(password)) else { fail("no account with e-mail \(email)") }
                print("reset the password of \(email.lowercased())")
            }
        }
    }
}

extension Admin {
    struct Jobs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the summary jobs, most recently queued first, and the queue's state.")
        @OptionGroup var common: CommonOptions
        @Option(help: "At most this many.") var limit = 50

        func run() async throws {
            try await withStore(common) { store in
                try await store.migrate()
                let status = try await store.summaryQueueStatus()
                print("queue: \(status.depth) waiting or running, oldest \(Int(status.oldestAgeSeconds)) s; \(status.failed) failed")
                print("session_id                            state    gen attempts queued_at             error")
                for job in try await store.summaryJobs(limit: limit) {
                    let queued = Date.ISO8601FormatStyle().format(job.queuedAt)
                    let columns = [job.sessionID.padding(toLength: 37, withPad: " ", startingAt: 0), job.state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                                   String(job.generation).padding(toLength: 3, withPad: " ", startingAt: 0), String(job.attempts).padding(toLength: 8, withPad: " ", startingAt: 0),
                                   queued.padding(toLength: 21, withPad: " ", startingAt: 0), job.lastError ?? ""]
                    print(columns.joined(separator: " "))
                }
            }
        }
    }

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a session's summary (or, with --json, its state, text, model, prompt version and time).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The session's id.") var session: String
        @Flag(help: "JSON: state, text, model, prompt_version, created_at, input_tokens, output_tokens, error.") var json = false

        func run() async throws {
            try await withStore(common) { store in
                try await store.migrate()
                let id = session.lowercased()
                let job = try await store.summaryJob(sessionID: id)
                let summary = try await store.summary(sessionID: id)
                guard job != nil || summary != nil else { fail("no summary job for session \(id) (is it stored?)") }
                if json {
                    var object: [String: Any] = ["session_id": id, "state": job?.state.rawValue ?? "done"]
                    object["text"] = summary?.text ?? NSNull()
                    object["model"] = summary?.model ?? NSNull()
                    object["prompt_version"] = summary?.promptVersion ?? NSNull()
                    object["created_at"] = summary.map { Date.ISO8601FormatStyle().format($0.createdAt) } ?? NSNull()
                    object["input_tokens"] = summary?.inputTokens ?? NSNull()
                    object["output_tokens"] = summary?.outputTokens ?? NSNull()
                    object["error"] = job?.lastError ?? NSNull()
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
                    print(String(decoding: data, as: UTF8.self))
                } else if let summary {
                    print(summary.text)
                    print("(\(summary.isOffline ? "offline template" : summary.model), prompt \(summary.promptVersion), \(Date.ISO8601FormatStyle().format(summary.createdAt)); job \(job?.state.rawValue ?? "done"))")
                } else {
                    print("no summary yet: the job is \(job!.state.rawValue)\(job?.lastError.map { " (\($0))" } ?? "")")
                }
            }
        }
    }
}

extension ClinicianRole: ExpressibleByArgument {}

/// One line of standard input, the password (never a command-line argument, which other users
/// of the machine can read): at least ``PasswordHash/minimumLength`` characters.
func readPassword() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else { fail("no password on standard input") }
    guard line.count >= PasswordHash.minimumLength else { fail("the password is shorter than \(PasswordHash.minimumLength) characters") }
    return line
}

/// Prints `message` to standard error and exits 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("hh-relay: \(message)\n".utf8))
    exit(1)
}

/// Opens the configured store, runs `body`, closes the store.
func withStore(_ common: CommonOptions, _ body: (any RelayStore) async throws -> Void) async throws {
    try await withStores(common, objects: false) { store, _ in try await body(store) }
}

/// The same with the object store as well (commands that read objects).
func withStore(_ common: CommonOptions, _ body: (any RelayStore, any ObjectStore) async throws -> Void) async throws {
    try await withStores(common, objects: true) { store, objects in try await body(store, objects!) }
}

/// One configuration and one quiet logger for both stores; errors printed. The database's
/// pool runs in a child task for as long as `body` does.
private func withStores(
    _ common: CommonOptions, objects wanted: Bool, _ body: (any RelayStore, (any ObjectStore)?) async throws -> Void
) async throws {
    let configuration = try common.configuration()
    var logger = Logger(label: "hh-relay")
    logger.logLevel = .warning
    do {
        let (store, services) = try RelayStores.openServing(configuration: configuration, logger: logger)
        let objects = wanted
            ? try RelayStores.openObjects(configuration: configuration, environment: ProcessInfo.processInfo.environment, logger: logger)
            : nil
        var failure: (any Error)?
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for service in services { group.addTask { try await service.run() } }
                defer { group.cancelAll() }
                try await body(store, objects)
            }
        } catch { failure = error }
        await objects?.shutdown()
        if let failure { throw failure }
    } catch {
        if error is ExitCode { throw error }
        FileHandle.standardError.write(Data("hh-relay: \(error)\n".utf8))
        throw ExitCode.failure
    }
}
