import Foundation

/// One kiosk session as the kiosk sends it to the relay (`POST /v1/sessions`, contract v1).
///
/// A session is the time one patient spends in front of the kiosk: from the first second a
/// face is seen (or speech heard) to the start of a configurable absence. The id is made on the
/// kiosk and is the idempotency key: the relay stores each id once.
public struct SessionDocument: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case id
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case endReason = "end_reason"
        case heartRate = "heart_rate"
        case summary
        case voiceTurns = "voice_turns"
        case metadata
    }

    /// The version of this document's shape.
    public static let currentSchemaVersion = 1

    /// The shape version the document was written with.
    public var schemaVersion: Int
    /// The session id: a UUID made on the kiosk, lower case.
    public var id: String
    /// When the session started (the first second with a person present).
    public var startedAt: Date
    /// When the session ended (the start of the absence that closed it, or the interruption).
    public var endedAt: Date
    /// Why the session ended.
    public var endReason: EndReason
    /// One sample per second of the session, in time order.
    public var heartRate: [HeartRateSample]
    /// Vitals over the whole session.
    public var summary: VitalsSummary
    /// The patient's utterances (voice turns), in time order.
    public var voiceTurns: [VoiceTurnSummary]
    /// What measured the session.
    public var metadata: SessionMetadata

    /// Why a session ended.
    public enum EndReason: String, Codable, Sendable, Hashable, CaseIterable {
        /// Nobody was present for the configured absence.
        case absence
        /// The session reached its maximum length.
        case maximumLength = "maximum_length"
        /// The daemon stopped (or its input ended) while the session was open.
        case shutdown
        /// The daemon died while the session was open; closed on the next start.
        case interrupted
    }

    /// Creates a document with the current schema version.
    public init(
        id: String, startedAt: Date, endedAt: Date, endReason: EndReason,
        heartRate: [HeartRateSample], summary: VitalsSummary,
        voiceTurns: [VoiceTurnSummary], metadata: SessionMetadata
    ) {
        self.schemaVersion = Self.currentSchemaVersion
        self.id = id
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.heartRate = heartRate
        self.summary = summary
        self.voiceTurns = voiceTurns
        self.metadata = metadata
    }
}

/// One second of a session's heart-rate series.
public struct HeartRateSample: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case t
        case bpm
        case snrDb = "snr_db"
        case respirationBpm = "respiration_bpm"
    }

    /// Seconds from the session's start to the time the estimate describes.
    public var t: Double
    /// Heart rate in beats per minute; absent where there was no estimate.
    public var bpm: Double?
    /// Signal quality of the estimate: SNR of the pulse peak in dB.
    public var snrDb: Double?
    /// Respiration rate in breaths per minute, where its own quality gate passed.
    public var respirationBpm: Double?

    /// Creates a sample.
    public init(t: Double, bpm: Double? = nil, snrDb: Double? = nil, respirationBpm: Double? = nil) {
        self.t = t
        self.bpm = bpm
        self.snrDb = snrDb
        self.respirationBpm = respirationBpm
    }
}

/// Vitals over a whole session.
public struct VitalsSummary: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case heartRateMedianBpm = "heart_rate_median_bpm"
        case heartRateMinBpm = "heart_rate_min_bpm"
        case heartRateMaxBpm = "heart_rate_max_bpm"
        case snrMedianDb = "snr_median_db"
        case secondsWithEstimate = "seconds_with_estimate"
        case respirationMedianBpm = "respiration_median_bpm"
        case variability
    }

    /// Median heart rate over the seconds with an estimate.
    public var heartRateMedianBpm: Double?
    /// Lowest per-second heart rate.
    public var heartRateMinBpm: Double?
    /// Highest per-second heart rate.
    public var heartRateMaxBpm: Double?
    /// Median SNR of the estimates, dB.
    public var snrMedianDb: Double?
    /// Seconds of the session with a heart-rate estimate.
    public var secondsWithEstimate: Int
    /// Median respiration rate, where measured.
    public var respirationMedianBpm: Double?
    /// The last heart-rate variability that passed its quality gate.
    public var variability: Variability?

    /// Heart-rate variability from beat-to-beat intervals.
    public struct Variability: Codable, Sendable, Hashable {
        enum CodingKeys: String, CodingKey {
            case rmssdMs = "rmssd_ms"
            case sdnnMs = "sdnn_ms"
        }

        /// Root mean square of successive differences, ms.
        public var rmssdMs: Double
        /// Standard deviation of the intervals, ms.
        public var sdnnMs: Double

        /// Creates a variability figure.
        public init(rmssdMs: Double, sdnnMs: Double) {
            self.rmssdMs = rmssdMs
            self.sdnnMs = sdnnMs
        }
    }

    /// Creates a summary.
    public init(
        heartRateMedianBpm: Double? = nil, heartRateMinBpm: Double? = nil, heartRateMaxBpm: Double? = nil,
        snrMedianDb: Double? = nil, secondsWithEstimate: Int = 0, respirationMedianBpm: Double? = nil,
        variability: Variability? = nil
    ) {
        self.heartRateMedianBpm = heartRateMedianBpm
        self.heartRateMinBpm = heartRateMinBpm
        self.heartRateMaxBpm = heartRateMaxBpm
        self.snrMedianDb = snrMedianDb
        self.secondsWithEstimate = secondsWithEstimate
        self.respirationMedianBpm = respirationMedianBpm
        self.variability = variability
    }

    /// The summary of a series: medians and extremes over the samples that have values.
    public init(series: [HeartRateSample], variability: Variability? = nil) {
        let rates = series.compactMap(\.bpm)
        self.init(
            heartRateMedianBpm: Self.median(rates),
            heartRateMinBpm: rates.min(),
            heartRateMaxBpm: rates.max(),
            snrMedianDb: Self.median(series.compactMap(\.snrDb)),
            secondsWithEstimate: rates.count,
            respirationMedianBpm: Self.median(series.compactMap(\.respirationBpm)),
            variability: variability
        )
    }

    private static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }
}

/// One utterance of the patient within a session. The audio itself travels separately
/// (`POST /v1/sessions/{id}/turns`).
public struct VoiceTurnSummary: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case id
        case startS = "start_s"
        case endS = "end_s"
    }

    /// The turn id: a UUID made on the kiosk.
    public var id: String
    /// Seconds from the session's start to the start of the utterance.
    public var startS: Double
    /// Seconds from the session's start to its end.
    public var endS: Double

    /// Creates a turn summary.
    public init(id: String, startS: Double, endS: Double) {
        self.id = id
        self.startS = startS
        self.endS = endS
    }
}

/// What measured a session.
public struct SessionMetadata: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case softwareVersion = "software_version"
        case pulseMethod = "pulse_method"
        case camera
    }

    /// The kiosk software version.
    public var softwareVersion: String
    /// The pulse extraction method (`pos`, `chrom`, `green`).
    public var pulseMethod: String
    /// The camera's format as negotiated, e.g. `YUYV 640x480 @30`.
    public var camera: String?

    /// Creates metadata.
    public init(softwareVersion: String, pulseMethod: String, camera: String? = nil) {
        self.softwareVersion = softwareVersion
        self.pulseMethod = pulseMethod
        self.camera = camera
    }
}
