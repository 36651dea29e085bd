import Foundation

/// A clinic: the unit whose data its clinicians (and only they) see.
public struct Clinic: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
}

/// A kiosk registered with the relay.
public struct Device: Sendable, Hashable {
    public var id: String
    public var clinicID: String
    public var name: String
    /// SHA-256 of the token's secret, hex.
    public var secretHash: String
    /// When the device was revoked; its token no longer works.
    public var revokedAt: Date?

    /// Creates a device.
    public init(id: String, clinicID: String, name: String, secretHash: String, revokedAt: Date? = nil) {
        self.id = id
        self.clinicID = clinicID
        self.name = name
        self.secretHash = secretHash
        self.revokedAt = revokedAt
    }
}

/// A session as the device API stores it.
public struct StoredSession: Sendable, Hashable {
    public var id: String
    public var clinicID: String
    public var deviceID: String
    public var startedAt: Date
    public var endedAt: Date
    /// SHA-256 of the document as uploaded, hex: tells a byte-identical retry at once.
    public var digest: String
    /// The document (JSON) as uploaded.
    public var document: String
    /// Median heart rate, for listings.
    public var heartRateMedianBpm: Double?

    /// Creates a stored session.
    public init(
        id: String, clinicID: String, deviceID: String, startedAt: Date, endedAt: Date, digest: String, document: String,
        heartRateMedianBpm: Double?
    ) {
        self.id = id
        self.clinicID = clinicID
        self.deviceID = deviceID
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.digest = digest
        self.document = document
        self.heartRateMedianBpm = heartRateMedianBpm
    }
}

/// What storing a session did.
public enum StoreOutcome: Sendable, Hashable {
    /// Stored now.
    case created
    /// The same document was stored before under this id (a retry): nothing changed.
    case replayed
    /// Another document is stored under this id by the same clinic.
    case conflict
    /// The id belongs to another clinic's session.
    case otherClinic
}

/// Why the store failed.
public enum RelayStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No such clinic (adding a device).
    case unknownClinic(String)
    /// The database is unreachable or failed.
    case unavailable(String)
    /// The database on disk is not the one the relay opened (its folder was removed or
    /// replaced): nothing can be stored until the relay is restarted on the right folder.
    case misplaced(String)
    /// The database refuses this data and always will (a data exception): the request is at fault.
    case unstorable(String)

    public var description: String {
        switch self {
        case .unknownClinic(let id): "no clinic with id \(id)"
        case .unavailable(let message): "database unavailable: \(message)"
        case .misplaced(let message): "database unavailable: \(message)"
        case .unstorable(let message): "the database cannot store this document: \(message)"
        }
    }
}

/// The relay's persistence: one protocol, two back ends (SQLite embedded, Postgres in
/// production), both held to one contract test suite.
public protocol RelayStore: TurnStore, ClinicianStore, SummaryStore {
    /// Brings the schema to the current version. Safe to run from several instances at once.
    func migrate() async throws
    /// Checks the database answers (for `GET /health`).
    func ping() async throws
    /// Adds a clinic.
    func addClinic(name: String) async throws -> Clinic
    /// Adds a device to a clinic with the hash of its token's secret.
    func addDevice(id: String, clinicID: String, name: String, secretHash: String) async throws -> Device
    /// Revokes a device; `false` when there is no such device.
    func revokeDevice(id: String) async throws -> Bool
    /// The device with `id`, revoked or not.
    func device(id: String) async throws -> Device?
    /// Stores a session once: idempotent on its id.
    func store(_ session: StoredSession) async throws -> StoreOutcome
    /// The session with `id`.
    func session(id: String) async throws -> StoredSession?
    /// Number of stored sessions (for tests and the admin).
    func sessionCount() async throws -> Int
    /// Releases connections.
    func close() async
}

/// A voice turn as the relay stores it: what was heard, what was answered and by whom, and
/// where its audio is kept (if it is kept at all).
public struct StoredTurn: Sendable, Hashable {
    public var id: String
    public var sessionID: String
    public var clinicID: String
    public var deviceID: String
    /// When the patient started speaking (the kiosk's clock).
    public var startedAt: Date
    /// SHA-256 of the audio part as uploaded, hex: tells a retry from another utterance under the same id.
    public var audioDigest: String
    /// What the patient said, as recognised.
    public var transcript: String
    /// What the relay answered.
    public var replyText: String
    /// Whether the turn raised an emergency, and which kind.
    public var escalationReason: String?
    /// The answer as sent (JSON): a retry gets exactly this.
    public var response: String
    /// Object keys of the patient's audio and of the reply's, while retained.
    public var audioKeys: [String]
    /// When the retained audio is to be deleted.
    public var audioExpiresAt: Date?

    /// Creates a stored turn.
    public init(
        id: String, sessionID: String, clinicID: String, deviceID: String, startedAt: Date, audioDigest: String, transcript: String,
        replyText: String, escalationReason: String?, response: String, audioKeys: [String] = [], audioExpiresAt: Date? = nil
    ) {
        self.id = id
        self.sessionID = sessionID
        self.clinicID = clinicID
        self.deviceID = deviceID
        self.startedAt = startedAt
        self.audioDigest = audioDigest
        self.transcript = transcript
        self.replyText = replyText
        self.escalationReason = escalationReason
        self.response = response
        self.audioKeys = audioKeys
        self.audioExpiresAt = audioExpiresAt
    }

    /// Whether the turn raised an emergency.
    public var escalated: Bool { escalationReason != nil }
}

/// A relay instance's claim to answer a turn: the row that makes a turn answered once, however
/// many instances receive it at once.
public struct TurnClaim: Sendable, Hashable {
    public var id: String
    public var sessionID: String
    public var clinicID: String
    public var deviceID: String
    public var audioDigest: String

    /// A claim.
    public init(id: String, sessionID: String, clinicID: String, deviceID: String, audioDigest: String) {
        self.id = id
        self.sessionID = sessionID
        self.clinicID = clinicID
        self.deviceID = deviceID
        self.audioDigest = audioDigest
    }
}

/// What claiming a turn found.
public enum TurnClaimOutcome: Sendable, Hashable {
    /// This caller answers it now (new, or a claim abandoned longer ago than the stale time).
    case claimed
    /// It was answered before: here is the answer (a retry).
    case answered(StoredTurn)
    /// Another caller is answering it now.
    case inProgress
    /// The id is taken by a turn with other audio.
    case conflict
    /// The turn id or its session belongs to another clinic.
    case otherClinic
}

/// The turns' part of the store: claims, answers, history and audio retention.
public protocol TurnStore: Sendable {
    /// Claims turn `claim.id` for answering. A pending claim older than `staleAfter` (its
    /// instance died) is taken over.
    func claimTurn(_ claim: TurnClaim, staleAfter: Duration) async throws -> TurnClaimOutcome
    /// Stores the answer of a turn this caller claimed.
    func completeTurn(_ turn: StoredTurn) async throws
    /// Gives up a claim (the turn could not be answered); a retry claims it anew.
    func abandonTurn(id: String) async throws
    /// The answered turn with `id`.
    func turn(id: String) async throws -> StoredTurn?
    /// The answered turns of a session, oldest first (the conversation so far).
    func turns(sessionID: String) async throws -> [StoredTurn]
    /// Answered turns whose retained audio expired before `date`, at most `limit`.
    func turnsWithExpiredAudio(before date: Date, limit: Int) async throws -> [StoredTurn]
    /// Records that a turn's audio is gone.
    func forgetTurnAudio(id: String) async throws
    /// Records where a turn's audio is retained, and until when.
    func retainTurnAudio(id: String, keys: [String], until: Date) async throws
}
