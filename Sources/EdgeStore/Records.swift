import Foundation

/// One second of a session as the store keeps it while the session is open.
public struct VitalsSecond: Sendable, Hashable {
    /// Seconds from the session's start.
    public var t: Double
    /// Heart rate, bpm, where there was an estimate.
    public var bpm: Double?
    /// SNR of the estimate, dB.
    public var snrDb: Double?
    /// Respiration rate, breaths per minute, where measured.
    public var respirationBpm: Double?
    /// RMSSD of the beat intervals, ms, where measured.
    public var rmssdMs: Double?
    /// SDNN of the beat intervals, ms, where measured.
    public var sdnnMs: Double?

    /// Creates a measurement.
    public init(t: Double, bpm: Double? = nil, snrDb: Double? = nil, respirationBpm: Double? = nil, rmssdMs: Double? = nil, sdnnMs: Double? = nil) {
        self.t = t
        self.bpm = bpm
        self.snrDb = snrDb
        self.respirationBpm = respirationBpm
        self.rmssdMs = rmssdMs
        self.sdnnMs = sdnnMs
    }
}

/// One utterance of an open session.
public struct StoredTurn: Sendable, Hashable {
    /// The turn id.
    public var id: String
    /// Seconds from the session's start to the utterance's start.
    public var start: Double
    /// Seconds from the session's start to its end.
    public var end: Double

    /// Creates a turn.
    public init(id: String, start: Double, end: Double) {
        self.id = id
        self.start = start
        self.end = end
    }
}

/// A session that was open when the daemon last stopped (or is open now).
public struct OpenSession: Sendable, Hashable {
    /// The session id.
    public var id: String
    /// When it started.
    public var startedAt: Date
    /// Seconds from its start to the end of the last moment someone was known to be present
    /// (a face or speech), as recorded while it was open; `nil` if none was recorded.
    public var lastSeenS: Double?

    /// Creates an entry.
    public init(id: String, startedAt: Date, lastSeenS: Double? = nil) {
        self.id = id
        self.startedAt = startedAt
        self.lastSeenS = lastSeenS
    }
}

/// A closed session waiting in the outbox.
public struct OutboxRecord: Sendable, Hashable {
    /// Position in the delivery order.
    public var sequence: Int64
    /// The session id (the idempotency key).
    public var id: String
    /// The session document, JSON.
    public var document: Data
    /// Delivery attempts so far.
    public var attempts: Int
    /// Earliest time of the next attempt.
    public var notBefore: Date?

    /// A record as the store holds it.
    public init(sequence: Int64, id: String, document: Data, attempts: Int, notBefore: Date?) {
        self.sequence = sequence
        self.id = id
        self.document = document
        self.attempts = attempts
        self.notBefore = notBefore
    }
}

/// Where a session is on its way to the relay.
public enum DeliveryState: String, Sendable, Hashable, CaseIterable {
    /// Still being recorded.
    case open
    /// Closed, waiting in the outbox.
    case pending
    /// The relay rejected it for good; set aside with the reason.
    case rejected
    /// The relay acknowledged it; only this listing is kept.
    case delivered
}

/// One line of the recent-sessions listing.
public struct SessionListing: Sendable, Hashable {
    /// The session id.
    public var id: String
    /// When it started.
    public var startedAt: Date
    /// When it ended (nil while open).
    public var endedAt: Date?
    /// Delivery state.
    public var state: DeliveryState
    /// Delivery attempts made.
    public var attempts: Int
    /// The last delivery error, or the rejection reason.
    public var detail: String?
    /// When the relay acknowledged it.
    public var deliveredAt: Date?
}

/// The outbox in figures.
public struct OutboxStatistics: Sendable, Hashable {
    /// Closed sessions waiting for delivery.
    public var depth: Int
    /// Start time of the oldest waiting session's closing, i.e. how long the oldest has waited.
    public var oldestClosedAt: Date?
    /// Sessions set aside because the relay rejected them.
    public var rejected: Int
    /// Waiting sessions deleted to stay within the quota, since the store was created.
    public var evicted: Int
    /// Sessions delivered since the store was created.
    public var delivered: Int
}

/// Disk use of the store.
public struct StorageUsage: Sendable, Hashable {
    /// Bytes in use by the database (pages holding data, plus the write-ahead log).
    public var usedBytes: Int64
    /// The configured quota.
    public var quotaBytes: Int64
}
