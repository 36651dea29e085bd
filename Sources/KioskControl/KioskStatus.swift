import Foundation

/// Everything `hhctl status` shows: the daemon's live state. Encoded with ``ControlJSON``
/// conventions (snake_case keys); the JSON form is documented in `docs/HHCTL.md`.
public struct KioskStatus: Codable, Sendable, Hashable {
    /// The daemon's version.
    public var version: String
    /// The daemon's process id.
    public var pid: Int32
    /// When the daemon started.
    public var startedAt: Date
    /// Seconds since the daemon started.
    public var uptimeS: Double
    /// The camera.
    public var camera: Camera
    /// The microphone.
    public var microphone: Microphone
    /// The session in progress.
    @Nullable public var session: Session?
    /// The latest heart rate.
    public var heartRate: HeartRate
    /// The store-and-forward queue.
    public var outbox: Outbox
    /// The cloud relay.
    public var relay: Relay
    /// The store's disk use.
    public var storage: Storage
    /// The spoken conversation.
    public var conversation: Conversation

    /// Where a capture device stands.
    public enum DeviceState: String, Codable, Sendable, Hashable {
        /// Not configured.
        case disabled
        /// Being opened.
        case starting
        /// Delivering frames or samples.
        case running
        /// Not there (or gone); retried with backoff.
        case missing
        /// There but failing; retried with backoff.
        case failed
        /// A file source reached its end.
        case ended
    }

    /// The camera's state.
    public struct Camera: Codable, Sendable, Hashable {
        public var device: String
        public var state: DeviceState
        /// Negotiated pixel format, e.g. `yuyv`.
        @Nullable public var format: String?
        public var width: Int?
        @Nullable public var height: Int?
        /// Frames per second measured over the last seconds.
        @Nullable public var fps: Double?
        /// Frames delivered since start.
        public var frames: Int
        @Nullable public var lastError: String?
        /// Whether a face is in view now.
        public var facePresent: Bool
    }

    /// The microphone's state.
    public struct Microphone: Codable, Sendable, Hashable {
        public var device: String
        public var state: DeviceState
        @Nullable public var sampleRate: Int?
        /// Level of the last second, dBFS (RMS).
        @Nullable public var levelDbfs: Double?
        /// Capture overruns recovered since start.
        public var overruns: Int
        /// Utterances heard since start.
        public var utterances: Int
        @Nullable public var lastError: String?
    }

    /// The session in progress.
    public struct Session: Codable, Sendable, Hashable {
        public var id: String
        public var startedAt: Date
        public var durationS: Double
        public var turns: Int

        /// A session as the recorder sees it.
        public init(id: String, startedAt: Date, durationS: Double, turns: Int) {
            self.id = id
            self.startedAt = startedAt
            self.durationS = durationS
            self.turns = turns
        }
    }

    /// The latest heart-rate estimate and its quality.
    public struct HeartRate: Codable, Sendable, Hashable {
        /// Beats per minute; nil when there is no estimate (no face, poor signal).
        @Nullable public var bpm: Double?
        /// SNR of the pulse peak, dB.
        @Nullable public var snrDb: Double?
        /// `ok`, `no_face`, `low_quality`, or `none` before the first estimate.
        public var quality: String
        @Nullable public var respirationBpm: Double?

        /// The latest estimate.
        public init(bpm: Double? = nil, snrDb: Double? = nil, quality: String, respirationBpm: Double? = nil) {
            self.bpm = bpm
            self.snrDb = snrDb
            self.quality = quality
            self.respirationBpm = respirationBpm
        }
    }

    /// The outbox.
    public struct Outbox: Codable, Sendable, Hashable {
        /// Closed sessions waiting for delivery.
        public var depth: Int
        /// Seconds the oldest waiting session has waited.
        @Nullable public var oldestAgeS: Double?
        /// Sessions the relay refused, set aside.
        public var rejected: Int
        /// Waiting sessions evicted to stay within the quota.
        public var evicted: Int
        /// Sessions delivered.
        public var delivered: Int

        /// The outbox in figures.
        public init(depth: Int, oldestAgeS: Double? = nil, rejected: Int, evicted: Int, delivered: Int) {
            self.depth = depth
            self.oldestAgeS = oldestAgeS
            self.rejected = rejected
            self.evicted = evicted
            self.delivered = delivered
        }
    }

    /// The relay.
    public struct Relay: Codable, Sendable, Hashable {
        /// Base URL; nil when not enrolled.
        @Nullable public var url: String?
        /// Whether the last attempt reached it (nil before any attempt).
        @Nullable public var reachable: Bool?
        public var lastSuccess: Date?
        @Nullable public var lastError: String?
        /// When the next delivery attempt is due.
        @Nullable public var nextAttempt: Date?
    }

    /// The spoken conversation.
    public struct Conversation: Codable, Sendable, Hashable {
        /// `idle` (no session), `listening`, `thinking` (a turn is with the relay) or `speaking`.
        public var state: String
        /// Turns answered since the daemon started.
        public var turns: Int
        /// From sending the last answered turn to its answer, ms.
        @Nullable public var lastTurnLatencyMs: Double?
        /// The echo canceller's echo return loss enhancement over the last reply, dB.
        @Nullable public var echoReturnLossDb: Double?
        /// Turns kept in the outbox for later delivery (the relay did not answer them).
        public var waitingTurns: Int
        /// Apologies the kiosk spoke for turns the relay did not answer.
        public var apologies: Int
        /// Replies stopped because the patient spoke over them.
        public var bargeIns: Int
        /// Playback underruns (the reply arrived slower than it plays), counted, not fatal.
        public var underruns: Int
        /// Times the speaker device itself ran out of samples (a gap was heard, between replies
        /// or in one), counted, not fatal.
        public var speakerUnderruns: Int
        /// The last escalation the relay raised, shown until the session ends.
        @Nullable public var escalation: String?
        /// The speaker device, or the file replies are written to.
        public var speaker: String
        @Nullable public var lastError: String?

        /// A conversation with nothing said yet.
        public init(state: String = "idle", speaker: String) {
            self.state = state
            self.turns = 0
            self.waitingTurns = 0
            self.apologies = 0
            self.bargeIns = 0
            self.underruns = 0
            self.speakerUnderruns = 0
            self.speaker = speaker
        }
    }

    /// The store's disk use.
    public struct Storage: Codable, Sendable, Hashable {
        public var path: String
        public var usedBytes: Int64
        public var quotaBytes: Int64
        /// `ok` or `full` (the last write failed for lack of space).
        public var state: String
        @Nullable public var lastError: String?
    }
}


extension KioskStatus {
    /// The status of a daemon starting with `configuration`: devices starting, nothing measured or sent yet.
    public static func starting(configuration: KioskConfiguration, paths: DaemonPaths, enrollment: Enrollment?, storeQuota: Int64) -> KioskStatus {
        KioskStatus(
            version: KioskVersion.current, pid: getpid(), startedAt: Date(), uptimeS: 0,
            camera: .init(device: configuration.cameraDevice, state: .starting, frames: 0, facePresent: false),
            microphone: .init(device: configuration.microphoneDevice, state: .starting, overruns: 0, utterances: 0),
            session: nil,
            heartRate: .init(quality: "none"),
            outbox: .init(depth: 0, rejected: 0, evicted: 0, delivered: 0),
            relay: .init(url: enrollment?.relayURL),
            storage: .init(path: paths.database, usedBytes: 0, quotaBytes: storeQuota, state: "ok"),
            conversation: .init(speaker: configuration.speakerDevice))
    }
}

