import Foundation
import HHProtocol

/// The control socket's protocol (version 1): one JSON object a line each way, one request
/// per connection. Documented in `docs/HHCTL.md`.
public enum ControlProtocol {
    /// The protocol version this build speaks.
    public static let version = 1
    /// The longest request line the daemon reads.
    public static let maximumRequestBytes = 64 * 1024

    /// A request from `hhctl`.
    public struct Request: Codable, Sendable, Hashable {
        /// The protocol version of the client.
        public var version: Int
        /// `status`, `sessions` or `flush`.
        public var command: String
        /// For `sessions`: how many to list.
        public var limit: Int?

        /// Creates a request.
        public init(command: String, limit: Int? = nil) {
            self.version = ControlProtocol.version
            self.command = command
            self.limit = limit
        }
    }

    /// The daemon's answer.
    public struct Response: Codable, Sendable, Hashable {
        /// The protocol version of the daemon.
        public var version: Int
        /// Whether the request was carried out.
        public var ok: Bool
        /// Why not, when `ok` is false.
        public var error: String?
        /// For `status`.
        public var status: KioskStatus?
        /// For `sessions`, newest first.
        public var sessions: [SessionEntry]?
        /// For `flush`: sessions made due now.
        public var flushed: Int?

        /// A successful response.
        public init(status: KioskStatus? = nil, sessions: [SessionEntry]? = nil, flushed: Int? = nil) {
            self.version = ControlProtocol.version
            self.ok = true
            self.status = status
            self.sessions = sessions
            self.flushed = flushed
        }

        /// A refusal.
        public init(error: String) {
            self.version = ControlProtocol.version
            self.ok = false
            self.error = error
        }
    }

    /// One line of `hhctl sessions`.
    public struct SessionEntry: Codable, Sendable, Hashable {
        public var id: String
        public var startedAt: Date
        public var endedAt: Date?
        /// `open`, `pending`, `rejected` or `delivered`.
        public var state: String
        public var attempts: Int
        /// The last delivery error or the rejection reason.
        public var detail: String?
        public var deliveredAt: Date?
        /// The session's voice turns, oldest first.
        public var turns: [TurnEntry]

        /// One line of `hhctl sessions`.
        public init(
            id: String, startedAt: Date, endedAt: Date?, state: String, attempts: Int, detail: String?, deliveredAt: Date?,
            turns: [TurnEntry] = []
        ) {
            self.id = id
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.state = state
            self.attempts = attempts
            self.detail = detail
            self.deliveredAt = deliveredAt
            self.turns = turns
        }
    }

    /// One voice turn of a session in `hhctl sessions`.
    public struct TurnEntry: Codable, Sendable, Hashable {
        public var id: String
        public var startedAt: Date
        /// `answered`, `waiting` (for the relay, kept in the outbox) or `failed` (refused).
        public var state: String
        /// What the relay heard; `nil` until answered.
        @Nullable public var transcript: String?
        /// What the relay answered; `nil` until answered.
        @Nullable public var replyText: String?
        /// The last error, or why the relay refused it.
        @Nullable public var detail: String?

        /// A turn as listed.
        public init(id: String, startedAt: Date, state: String, transcript: String?, replyText: String?, detail: String?) {
            self.id = id
            self.startedAt = startedAt
            self.state = state
            self.transcript = transcript
            self.replyText = replyText
            self.detail = detail
        }
    }
}
