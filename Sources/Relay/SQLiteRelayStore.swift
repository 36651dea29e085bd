import Foundation
import GRDB

/// The embedded store: SQLite in the data folder (GRDB, WAL). One machine, no configuration.
public final class SQLiteRelayStore: RelayStore {
    private let pool: DatabasePool

    /// Opens (creating) the database `relay.sqlite` in `directory`.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        pool = try DatabasePool(path: directory + "/relay.sqlite", configuration: configuration)
    }

    /// The schema, one migration per version (GRDB records them in `grdb_migrations`; SQLite's
    /// write lock makes concurrent runs safe). Never edit a migration that has shipped.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE clinics (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL);
                CREATE TABLE devices (
                    id TEXT PRIMARY KEY,
                    clinic_id TEXT NOT NULL REFERENCES clinics (id),
                    name TEXT NOT NULL,
                    secret_hash TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    revoked_at REAL
                );
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    clinic_id TEXT NOT NULL REFERENCES clinics (id),
                    device_id TEXT NOT NULL REFERENCES devices (id),
                    started_at REAL NOT NULL,
                    ended_at REAL NOT NULL,
                    received_at REAL NOT NULL,
                    digest TEXT NOT NULL,
                    document TEXT NOT NULL,
                    heart_rate_median_bpm REAL
                );
                CREATE INDEX sessions_clinic_started ON sessions (clinic_id, started_at);
                """)
        }
        return migrator
    }

    public func migrate() async throws {
        try Self.migrator.migrate(pool)
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func addClinic(name: String) async throws -> Clinic {
        let clinic = Clinic(id: UUID().uuidString.lowercased(), name: name)
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO clinics (id, name, created_at) VALUES (?, ?, ?)", arguments: [clinic.id, name, Date().timeIntervalSince1970])
        }
        return clinic
    }

    public func addDevice(id: String, clinicID: String, name: String, secretHash: String) async throws -> Device {
        try await pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM clinics WHERE id = ?", arguments: [clinicID]) == true else {
                throw RelayStoreError.unknownClinic(clinicID)
            }
            try db.execute(
                sql: "INSERT INTO devices (id, clinic_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, clinicID, name, secretHash, Date().timeIntervalSince1970])
        }
        return Device(id: id, clinicID: clinicID, name: name, secretHash: secretHash)
    }

    public func revokeDevice(id: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", arguments: [Date().timeIntervalSince1970, id])
            return db.changesCount > 0
        }
    }

    public func device(id: String) async throws -> Device? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT id, clinic_id, name, secret_hash, revoked_at FROM devices WHERE id = ?", arguments: [id]).map {
                Device(id: $0["id"], clinicID: $0["clinic_id"], name: $0["name"], secretHash: $0["secret_hash"],
                       revokedAt: ($0["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    public func store(_ session: StoredSession) async throws -> StoreOutcome {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO sessions (id, clinic_id, device_id, started_at, ended_at, received_at, digest, document, heart_rate_median_bpm)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
                    """,
                arguments: [session.id, session.clinicID, session.deviceID, session.startedAt.timeIntervalSince1970,
                            session.endedAt.timeIntervalSince1970, Date().timeIntervalSince1970, session.digest, session.document,
                            session.heartRateMedianBpm])
            if db.changesCount > 0 { return .created }
            let existing = try Row.fetchOne(db, sql: "SELECT clinic_id, digest FROM sessions WHERE id = ?", arguments: [session.id])
            return StoreOutcome.resolving(existingClinic: existing?["clinic_id"], existingDigest: existing?["digest"], for: session)
        }
    }

    public func session(id: String) async throws -> StoredSession? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]).map {
                StoredSession(
                    id: $0["id"], clinicID: $0["clinic_id"], deviceID: $0["device_id"],
                    startedAt: Date(timeIntervalSince1970: $0["started_at"]), endedAt: Date(timeIntervalSince1970: $0["ended_at"]),
                    digest: $0["digest"], document: $0["document"], heartRateMedianBpm: $0["heart_rate_median_bpm"])
            }
        }
    }

    public func sessionCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sessions") ?? 0 }
    }

    public func close() async {}
}

extension StoreOutcome {
    /// The outcome for a session whose id was already taken by a row of `existingClinic` with
    /// `existingDigest`.
    static func resolving(existingClinic: String?, existingDigest: String?, for session: StoredSession) -> StoreOutcome {
        guard let existingClinic, existingClinic == session.clinicID else { return .otherClinic }
        return existingDigest == session.digest ? .replayed : .conflict
    }
}
