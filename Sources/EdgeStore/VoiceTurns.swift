import Foundation
import GRDB

/// Where a voice turn is on its way to the relay.
public enum VoiceTurnState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Stored with its audio; being sent, or to be sent again (`not_before`).
    case waiting
    /// The relay answered; the audio is gone (the relay has it), the transcript and reply kept.
    case answered
    /// The relay refused it for good (e.g. audio it cannot read); kept with the reason.
    case failed
}

/// A voice turn as the store keeps it.
public struct StoredVoiceTurn: Sendable, Hashable {
    /// The turn id (the relay's idempotency key).
    public var id: String
    /// The session it belongs to.
    public var sessionID: String
    /// When the patient started speaking.
    public var startedAt: Date
    /// Where it stands.
    public var state: VoiceTurnState
    /// The `turn` part as sent (JSON), so a retry sends the same.
    public var request: Data
    /// The utterance, 16 kHz mono WAV; `nil` once the relay has it.
    public var audio: Data?
    /// Attempts to send it so far.
    public var attempts: Int
    /// Earliest time of the next attempt (waiting turns).
    public var notBefore: Date?
    /// The last error, or why it was refused.
    public var lastError: String?
    /// What the relay heard.
    public var transcript: String?
    /// What the relay answered.
    public var replyText: String?

    /// A turn as stored.
    public init(
        id: String, sessionID: String, startedAt: Date, state: VoiceTurnState, request: Data, audio: Data?,
        attempts: Int = 0, notBefore: Date? = nil, lastError: String? = nil, transcript: String? = nil, replyText: String? = nil
    ) {
        self.id = id
        self.sessionID = sessionID
        self.startedAt = startedAt
        self.state = state
        self.request = request
        self.audio = audio
        self.attempts = attempts
        self.notBefore = notBefore
        self.lastError = lastError
        self.transcript = transcript
        self.replyText = replyText
    }

    init(row: Row) {
        self.init(
            id: row["id"], sessionID: row["session_id"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
            state: VoiceTurnState(rawValue: row["state"]) ?? .waiting, request: row["request"], audio: row["audio"],
            attempts: row["attempts"], notBefore: (row["not_before"] as Double?).map(Date.init(timeIntervalSince1970:)),
            lastError: row["last_error"], transcript: row["transcript"], replyText: row["reply_text"])
    }
}

extension EdgeStore {
    /// Stores a turn before it is sent (state `waiting`, due now), so that it survives a failed
    /// request or a crash. Storing the same id again changes nothing: the first audio stands.
    public func storeVoiceTurn(id: String, session: String, startedAt: Date, request: Data, audio: Data, now: Date) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO voice_turn (id, session_id, started_at, created_at, state, request, audio)
                    VALUES (?, ?, ?, ?, 'waiting', ?, ?) ON CONFLICT (id) DO NOTHING
                    """,
                arguments: [id, session, startedAt.timeIntervalSince1970, now.timeIntervalSince1970, request, audio])
        }
        // The turn is stored whatever happens next: a quota check that fails now is made again
        // at the next write, and is no reason to report the turn lost.
        try? enforceQuota()
    }

    /// Stores turn `id` as it is about to be sent: inserted if it is not stored yet, its request
    /// and audio replacing a waiting row's otherwise (fresher vitals, utterances merged into it),
    /// and the rows of the utterances merged into it (`absorbing`) deleted, in one transaction.
    public func storeVoiceTurnAsSent(
        id: String, session: String, startedAt: Date, request: Data, audio: Data, absorbing: [String], now: Date
    ) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO voice_turn (id, session_id, started_at, created_at, state, request, audio)
                    VALUES (?, ?, ?, ?, 'waiting', ?, ?)
                    ON CONFLICT (id) DO UPDATE SET request = excluded.request, audio = excluded.audio WHERE state = 'waiting'
                    """,
                arguments: [id, session, startedAt.timeIntervalSince1970, now.timeIntervalSince1970, request, audio])
            for absorbed in absorbing {
                try db.execute(sql: "DELETE FROM voice_turn WHERE id = ? AND state = 'waiting'", arguments: [absorbed])
            }
        }
        try? enforceQuota()
    }

    /// Records the relay's answer: the audio is dropped (the relay has it), what was heard and
    /// answered kept for `hhctl sessions`.
    public func markVoiceTurnAnswered(id: String, transcript: String, replyText: String) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE voice_turn SET state = 'answered', audio = NULL, attempts = attempts + 1, not_before = NULL,
                    last_error = NULL, transcript = ?, reply_text = ? WHERE id = ?
                    """,
                arguments: [transcript, replyText, id])
        }
    }

    /// Records a failed attempt; the turn is sent again no earlier than `notBefore`.
    public func markVoiceTurnWaiting(id: String, error: String, notBefore: Date) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE voice_turn SET attempts = attempts + 1, last_error = ?, not_before = ? WHERE id = ? AND state = 'waiting'",
                arguments: [error, notBefore.timeIntervalSince1970, id])
        }
    }

    /// Sets a turn aside for good: the relay refused it and retrying would not change that. Its
    /// audio is dropped (it will never be sent; the kiosk keeps no recordings of patients).
    public func markVoiceTurnFailed(id: String, reason: String) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE voice_turn SET state = 'failed', audio = NULL, attempts = attempts + 1, last_error = ?, not_before = NULL WHERE id = ? AND state = 'waiting'",
                arguments: [reason, id])
        }
    }

    /// Waiting turns due at `now`, oldest first, at most `limit`.
    public func dueVoiceTurns(now: Date, limit: Int = 16) throws(StoreError) -> [StoredVoiceTurn] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM voice_turn WHERE state = 'waiting' AND (not_before IS NULL OR not_before <= ?) ORDER BY seq LIMIT ?",
                arguments: [now.timeIntervalSince1970, limit]
            ).map(StoredVoiceTurn.init(row:))
        }
    }

    /// When the next waiting turn, other than those `excluding`, falls due (`nil`: none waits).
    public func nextVoiceTurnDue(excluding ids: Set<String> = []) throws(StoreError) -> Date? {
        try read { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT COUNT(*) AS n, MIN(COALESCE(not_before, 0)) AS due FROM voice_turn WHERE state = 'waiting' AND id NOT IN (\(marks))",
                    arguments: StatementArguments(Array(ids))),
                (row["n"] as Int) > 0
            else { return nil }
            return Date(timeIntervalSince1970: row["due"])
        }
    }

    /// Makes every waiting turn due now (`hhctl flush`).
    public func makeAllVoiceTurnsDue() throws(StoreError) {
        try write { db in try db.execute(sql: "UPDATE voice_turn SET not_before = NULL WHERE state = 'waiting'") }
    }

    /// The turns of the sessions `ids`, oldest first, without their audio.
    public func voiceTurns(sessions ids: [String]) throws(StoreError) -> [StoredVoiceTurn] {
        guard !ids.isEmpty else { return [] }
        return try read { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT id, session_id, started_at, state, request, NULL AS audio, attempts, not_before, last_error, transcript, reply_text
                    FROM voice_turn WHERE session_id IN (\(marks)) ORDER BY seq
                    """,
                arguments: StatementArguments(ids)
            ).map(StoredVoiceTurn.init(row:))
        }
    }

    /// Voice turns in figures: how many wait for the relay, and how many were evicted.
    public func voiceTurnBacklog() throws(StoreError) -> (waiting: Int, evicted: Int) {
        try read { db in
            let waiting = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM voice_turn WHERE state = 'waiting'") ?? 0
            let evicted = try Int.fetchOne(db, sql: "SELECT value FROM counter WHERE name = 'evicted_turns'") ?? 0
            return (waiting, evicted)
        }
    }

    /// Forgets answered and failed turns of sessions the store no longer lists (neither live
    /// nor in the delivered history), so the table does not grow without end.
    func pruneVoiceTurns(_ db: Database) throws {
        try db.execute(sql: """
            DELETE FROM voice_turn WHERE state != 'waiting'
            AND session_id NOT IN (SELECT id FROM session) AND session_id NOT IN (SELECT id FROM delivered)
            """)
    }
}
