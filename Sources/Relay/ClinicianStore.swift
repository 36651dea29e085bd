import Foundation

/// What a clinician account may do: clinicians review their clinic's visits; admins also
/// manage its kiosks and read its audit log.
public enum ClinicianRole: String, Sendable, Hashable, CaseIterable, Codable {
    case clinician, admin
}

/// A person who signs in to the web UI: one clinic's clinician or admin.
public struct ClinicianAccount: Sendable, Hashable {
    public var id: String
    public var clinicID: String
    /// Lower-cased: one account per address.
    public var email: String
    public var role: ClinicianRole
    /// The password's hash in ``PasswordHash`` form (algorithm, cost, salt, hash).
    public var passwordHash: String

    /// Creates an account (the e-mail address is lower-cased).
    public init(id: String, clinicID: String, email: String, role: ClinicianRole, passwordHash: String) {
        self.id = id
        self.clinicID = clinicID
        self.email = email.lowercased()
        self.role = role
        self.passwordHash = passwordHash
    }
}

/// A signed-in browser: the server-side half of the session cookie.
public struct WebSession: Sendable, Hashable {
    /// SHA-256 of the cookie's secret, hex (the secret itself is never stored).
    public var tokenHash: String
    public var userID: String
    /// The token every state-changing form of this session carries.
    public var csrfToken: String
    public var createdAt: Date
    public var lastSeenAt: Date

    /// Creates a web session.
    public init(tokenHash: String, userID: String, csrfToken: String, createdAt: Date, lastSeenAt: Date) {
        self.tokenHash = tokenHash
        self.userID = userID
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}

/// One line of the audit log: who did what to which record, when, from where.
public struct AuditEntry: Sendable, Hashable {
    /// Ordered by insertion (a cursor for paging).
    public var sequence: Int64
    public var at: Date
    public var clinicID: String
    public var userID: String
    public var email: String
    /// What was done: `view_visit`, `play_audio`, `export_visit`, `acknowledge`, `revoke_kiosk`, `export_audit`, `sign_in`, `sign_out`.
    public var action: String
    /// The record it was done to (a visit id, a turn id, a kiosk id), or empty.
    public var subject: String
    /// The client's address.
    public var address: String

    /// Creates an entry (its sequence is the store's to give).
    public init(sequence: Int64 = 0, at: Date, clinicID: String, userID: String, email: String, action: String, subject: String, address: String) {
        self.sequence = sequence
        self.at = at
        self.clinicID = clinicID
        self.userID = userID
        self.email = email
        self.action = action
        self.subject = subject
        self.address = address
    }
}

/// Where a page of visits ends: the next page starts after it (keyset paging: newest first
/// by start time, then id).
public struct VisitCursor: Sendable, Hashable {
    public var startedAt: Date
    public var id: String

    /// A cursor after the visit that started at `startedAt` with `id`.
    public init(startedAt: Date, id: String) {
        self.startedAt = startedAt
        self.id = id
    }
}

/// Which of a clinic's visits to list.
public struct VisitQuery: Sendable, Hashable {
    public var clinicID: String
    /// Only this kiosk's visits.
    public var deviceID: String?
    /// Visits that started at or after this.
    public var from: Date?
    /// Visits that started before this.
    public var until: Date?
    /// Visits after this one (the previous page's last).
    public var after: VisitCursor?
    public var limit: Int

    /// A query of one clinic's visits.
    public init(clinicID: String, deviceID: String? = nil, from: Date? = nil, until: Date? = nil, after: VisitCursor? = nil, limit: Int = 25) {
        self.clinicID = clinicID
        self.deviceID = deviceID
        self.from = from
        self.until = until
        self.after = after
        self.limit = limit
    }
}

/// A visit as the sessions list shows it.
public struct VisitListing: Sendable, Hashable {
    public var id: String
    public var deviceID: String
    public var deviceName: String
    public var startedAt: Date
    public var endedAt: Date
    public var heartRateMedianBpm: Double?
    /// The median signal-to-noise ratio of the estimates (the reading's quality).
    public var snrMedianDb: Double?
    /// Answered voice turns.
    public var turnCount: Int
    /// Whether a turn raised an emergency.
    public var escalated: Bool
    /// When a clinician acknowledged the escalation.
    public var acknowledgedAt: Date?
    /// Where its summary stands (nil: no job, a session stored before summaries).
    public var summaryState: SummaryJobState?

    /// Creates a listing row.
    public init(
        id: String, deviceID: String, deviceName: String, startedAt: Date, endedAt: Date, heartRateMedianBpm: Double?, snrMedianDb: Double?,
        turnCount: Int, escalated: Bool, acknowledgedAt: Date?, summaryState: SummaryJobState? = nil
    ) {
        self.summaryState = summaryState
        self.id = id
        self.deviceID = deviceID
        self.deviceName = deviceName
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.heartRateMedianBpm = heartRateMedianBpm
        self.snrMedianDb = snrMedianDb
        self.turnCount = turnCount
        self.escalated = escalated
        self.acknowledgedAt = acknowledgedAt
    }

    /// The cursor that lists the visits after this one.
    public var cursor: VisitCursor { VisitCursor(startedAt: startedAt, id: id) }
}

/// A kiosk as the admin's kiosk page shows it.
public struct KioskListing: Sendable, Hashable {
    public var device: Device
    /// The last session or voice turn it sent.
    public var lastContact: Date?
    /// The software version of its last session.
    public var softwareVersion: String?
    /// Sessions that started since the given time (today).
    public var sessionsSince: Int

    /// Creates a kiosk row.
    public init(device: Device, lastContact: Date?, softwareVersion: String?, sessionsSince: Int) {
        self.device = device
        self.lastContact = lastContact
        self.softwareVersion = softwareVersion
        self.sessionsSince = sessionsSince
    }
}

/// Why an account change failed.
public enum AccountError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Another account already has this e-mail address.
    case emailTaken(String)

    public var description: String {
        switch self {
        case .emailTaken(let email): "an account with e-mail \(email) already exists"
        }
    }
}

/// The web UI's part of the store: accounts, signed-in browsers, what clinicians see, the
/// acknowledgements they make and the audit log of what they saw. Every read is by clinic:
/// nothing here returns another clinic's record.
public protocol ClinicianStore {
    /// Adds an account. Throws ``RelayStoreError/unknownClinic(_:)`` or ``AccountError/emailTaken(_:)``.
    func addAccount(_ account: ClinicianAccount) async throws
    /// The account with this e-mail address (any case).
    func account(email: String) async throws -> ClinicianAccount?
    /// Removes an account and signs it out everywhere; `false` when there is none.
    func removeAccount(email: String) async throws -> Bool
    /// Replaces an account's password hash and signs it out everywhere; `false` when there is none.
    func setPasswordHash(email: String, hash: String) async throws -> Bool

    /// Records a signed-in browser.
    func createWebSession(_ session: WebSession) async throws
    /// The signed-in browser with this token hash, and its account.
    func webSession(tokenHash: String) async throws -> (WebSession, ClinicianAccount)?
    /// Records that the browser was seen (extends its idle expiry).
    func touchWebSession(tokenHash: String, at date: Date) async throws
    /// Signs a browser out.
    func deleteWebSession(tokenHash: String) async throws
    /// Removes browsers last seen before `idleCutoff` or signed in before `absoluteCutoff`.
    func deleteExpiredWebSessions(lastSeenBefore idleCutoff: Date, createdBefore absoluteCutoff: Date) async throws

    /// A page of a clinic's visits, newest first.
    func visits(_ query: VisitQuery) async throws -> [VisitListing]
    /// A clinic's escalated visits no clinician has acknowledged yet, newest first (at most `limit`).
    func unacknowledgedEscalations(clinicID: String, limit: Int) async throws -> [VisitListing]
    /// One visit of the clinic's, as listed (nil for another clinic's or no visit).
    func visit(id: String, clinicID: String) async throws -> VisitListing?
    /// Records that an escalated visit of the clinic was acknowledged; `false` if there is no
    /// such escalated visit in the clinic (acknowledging twice keeps the first).
    func acknowledgeEscalation(sessionID: String, clinicID: String, userID: String, at date: Date) async throws -> Bool
    /// The clinic's kiosks, with sessions counted since `since`.
    func kiosks(clinicID: String, sessionsSince since: Date) async throws -> [KioskListing]

    /// Appends to the audit log.
    func appendAudit(_ entry: AuditEntry) async throws
    /// A clinic's audit log, newest first, before the entry with sequence `before` (all when nil).
    func audit(clinicID: String, before: Int64?, limit: Int) async throws -> [AuditEntry]
}
