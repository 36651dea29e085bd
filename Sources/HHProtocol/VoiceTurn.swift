import Foundation

/// The `turn` part of `POST /v1/sessions/{session_id}/turns`: what the kiosk says about an
/// utterance it sends (the audio is the other part).
public struct VoiceTurnRequest: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case id
        case startedAt = "started_at"
        case language
        case vitals
    }

    /// The turn id: a UUID made on the kiosk.
    public var id: String
    /// When the patient started speaking.
    public var startedAt: Date
    /// The language spoken, a BCP 47 code such as `en` or `es-MX`; `en` when absent.
    public var language: String?
    /// The latest vitals with their quality; `nil` members where the kiosk had no estimate.
    public var vitals: Vitals?

    /// Vitals at the time of the turn.
    public struct Vitals: Codable, Sendable, Hashable {
        enum CodingKeys: String, CodingKey {
            case heartRateBpm = "heart_rate_bpm"
            case heartRateSnrDb = "heart_rate_snr_db"
            case respirationBpm = "respiration_bpm"
        }

        /// Heart rate, beats per minute.
        public var heartRateBpm: Double?
        /// Its signal-to-noise ratio, dB: how far to trust it.
        public var heartRateSnrDb: Double?
        /// Breathing rate, breaths per minute.
        public var respirationBpm: Double?

        /// Vitals as measured.
        public init(heartRateBpm: Double? = nil, heartRateSnrDb: Double? = nil, respirationBpm: Double? = nil) {
            self.heartRateBpm = heartRateBpm
            self.heartRateSnrDb = heartRateSnrDb
            self.respirationBpm = respirationBpm
        }
    }

    /// A turn request.
    public init(id: String, startedAt: Date, language: String? = nil, vitals: Vitals? = nil) {
        self.id = id
        self.startedAt = startedAt
        self.language = language
        self.vitals = vitals
    }

    /// The keys the part may have.
    public static let shape: StrictJSON.Shape = .object([
        "id": .scalar, "started_at": .scalar, "language": .scalar,
        "vitals": .object(["heart_rate_bpm": .scalar, "heart_rate_snr_db": .scalar, "respiration_bpm": .scalar]),
    ])
}

/// The relay's answer to a voice turn.
public struct VoiceTurnAnswer: Codable, Sendable, Hashable {
    enum CodingKeys: String, CodingKey {
        case id
        case sessionID = "session_id"
        case language
        case transcript
        case reply
        case escalation
        case providers
        case timingsMs = "timings_ms"
    }

    /// The turn id.
    public var id: String
    /// The session the turn belongs to.
    public var sessionID: String
    /// The language the turn was answered in.
    public var language: String
    /// What the patient said, as recognised (empty when nothing was).
    public var transcript: String
    /// What the relay answers.
    public var reply: Reply
    /// Whether the patient may be in danger.
    public var escalation: Escalation
    /// Which provider did each stage, and what fell back.
    public var providers: Providers
    /// Milliseconds per stage.
    public var timingsMs: Timings

    /// The answer's words and audio.
    public struct Reply: Codable, Sendable, Hashable {
        enum CodingKeys: String, CodingKey {
            case text
            case audioURL = "audio_url"
            case screened
        }

        /// The words.
        public var text: String
        /// Where the spoken reply streams from (`GET`, the same device token): `audio/wav`, 16 kHz mono.
        public var audioURL: String
        /// Whether the model's own reply was replaced because it diagnosed or prescribed.
        public var screened: Bool

        /// A reply.
        public init(text: String, audioURL: String, screened: Bool) {
            self.text = text
            self.audioURL = audioURL
            self.screened = screened
        }
    }

    /// An emergency found in what the patient said.
    public struct Escalation: Codable, Sendable, Hashable {
        /// Whether staff must come now.
        public var raised: Bool
        /// The kind of emergency (`chest_pain`, `breathing`, …), or `nil`.
        public var reason: String?

        /// An escalation.
        public init(raised: Bool, reason: String?) {
            self.raised = raised
            self.reason = reason
        }

        /// Writes `reason` as `null` when there is none (the contract always has the key).
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(raised, forKey: .raised)
            try container.encode(reason, forKey: .reason)
        }

        enum CodingKeys: String, CodingKey {
            case raised, reason
        }
    }

    /// The providers of the three stages.
    public struct Providers: Codable, Sendable, Hashable {
        enum CodingKeys: String, CodingKey {
            case speechToText = "speech_to_text"
            case responder
            case textToSpeech = "text_to_speech"
            case fallbacks
        }

        /// Who recognised the speech.
        public var speechToText: String
        /// Who wrote the reply (`emergency` when the emergency check answered).
        public var responder: String
        /// Who speaks it.
        public var textToSpeech: String
        /// Each stage that fell back to its offline provider, and why.
        public var fallbacks: [String]

        /// Providers.
        public init(speechToText: String, responder: String, textToSpeech: String, fallbacks: [String]) {
            self.speechToText = speechToText
            self.responder = responder
            self.textToSpeech = textToSpeech
            self.fallbacks = fallbacks
        }
    }

    /// Milliseconds spent per stage.
    public struct Timings: Codable, Sendable, Hashable {
        enum CodingKeys: String, CodingKey {
            case audio
            case speechToText = "speech_to_text"
            case responder
            case firstAudio = "first_audio"
            case total
        }

        /// Reading and converting the audio.
        public var audio: Int
        /// Speech to text.
        public var speechToText: Int
        /// The emergency check and the responder, to the whole reply text.
        public var responder: Int
        /// From the start of the turn to the first reply audio synthesised.
        public var firstAudio: Int?
        /// The whole turn, to this answer.
        public var total: Int

        /// Timings.
        public init(audio: Int, speechToText: Int, responder: Int, firstAudio: Int?, total: Int) {
            self.audio = audio
            self.speechToText = speechToText
            self.responder = responder
            self.firstAudio = firstAudio
            self.total = total
        }

        /// Writes `first_audio` as `null` when no audio was made before the answer.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(audio, forKey: .audio)
            try container.encode(speechToText, forKey: .speechToText)
            try container.encode(responder, forKey: .responder)
            try container.encode(firstAudio, forKey: .firstAudio)
            try container.encode(total, forKey: .total)
        }
    }

    /// An answer.
    public init(
        id: String, sessionID: String, language: String, transcript: String, reply: Reply, escalation: Escalation, providers: Providers,
        timingsMs: Timings
    ) {
        self.id = id
        self.sessionID = sessionID
        self.language = language
        self.transcript = transcript
        self.reply = reply
        self.escalation = escalation
        self.providers = providers
        self.timingsMs = timingsMs
    }
}

/// The contract's rule for silence, which the relay refuses (422 `silent_audio`) and the kiosk
/// therefore does not send: an utterance whose loudest 20 ms stays under about -50 dBFS RMS
/// (a muted microphone, a cable unplugged, a voice detector's false alarm on quiet noise).
public enum TurnAudioLevel {
    /// The RMS level, relative to full scale, the loudest 20 ms must reach.
    public static let silenceRMS: Float = 0.003

    /// Whether `samples` (16 kHz mono) are silence by this rule.
    public static func isSilent(_ samples: [Int16]) -> Bool { loudestFrameRMS(samples) < silenceRMS }

    /// The RMS level, relative to full scale, of the loudest 20 ms of `samples` (16 kHz).
    public static func loudestFrameRMS(_ samples: [Int16]) -> Float {
        let frame = 320
        var loudest: Float = 0
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + frame)
            var energy: Float = 0
            for index in start..<end {
                let sample = Float(samples[index]) / 32_768
                energy += sample * sample
            }
            loudest = max(loudest, (energy / Float(end - start)).squareRoot())
            start = end
        }
        return loudest
    }
}
