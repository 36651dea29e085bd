import Foundation
import HHProtocol

/// What the kiosk measured, as a responder may quote it: the vitals of a voice turn's request.
public typealias TurnVitals = VoiceTurnRequest.Vitals

extension VoiceTurnRequest.Vitals {
    /// How far to trust the heart rate, in words, from its SNR.
    public var heartRateQuality: String? {
        guard heartRateBpm != nil else { return nil }
        switch heartRateSnrDb ?? 0 {
        case 6...: return "a clear reading"
        case 3..<6: return "a fair reading"
        default: return "a weak reading, so take it as a rough guide"
        }
    }
}

/// A clinic's own facts, the only clinic facts any responder may state: a file per clinic.
public struct ClinicKnowledge: Sendable, Hashable, Codable {
    /// One fact and the words that ask for it.
    public struct Entry: Sendable, Hashable, Codable {
        /// What it is about, e.g. `opening_hours`.
        public var topic: String
        /// Words or phrases that ask for it (matched as the emergency patterns are).
        public var asks: [String]
        /// The approved answer, said as it is.
        public var answer: String

        /// An entry.
        public init(topic: String, asks: [String], answer: String) {
            self.topic = topic
            self.asks = asks
            self.answer = answer
        }
    }

    /// The clinic's name.
    public var name: String
    /// Its facts.
    public var entries: [Entry]

    /// Knowledge of a clinic.
    public init(name: String, entries: [Entry]) {
        self.name = name
        self.entries = entries
    }

    /// Reads a clinic's knowledge file (JSON).
    public static func load(from data: Data) throws -> ClinicKnowledge {
        try JSONDecoder().decode(ClinicKnowledge.self, from: data)
    }
}

/// The responder that needs no cloud: it answers what the kiosk knows (the vitals just
/// measured, what they mean and how reliable they are, how long a visit takes) and what the
/// clinic's knowledge file says, and otherwise says plainly that it cannot help with that
/// here. It never diagnoses or prescribes: it has no sentence that could.
public struct OfflineResponder: Sendable {
    /// What the responder decided.
    public struct Reply: Sendable, Hashable {
        /// What it understood was asked (`heart_rate`, a clinic topic, `unknown`, …).
        public var intent: String
        /// The words to say.
        public var text: String
    }

    private let knowledge: ClinicKnowledge
    private let matcher: PhraseMatcher

    /// The built-in questions, by intent.
    static let questions: [String: [String]] = [
        "heart_rate": ["heart rate", "heartrate", "pulse", "heart beat*", "heartbeat", "bpm", "ritmo cardiaco", "pouls", "frequence cardiaque", "puls"],
        "breathing": ["breathing", "breath* rate", "breaths", "respiration", "respiratory", "respiracion", "respiration", "atmung"],
        "reliability": ["reliable", "accurate", "accuracy", "how sure", "trust … reading", "trust … number", "how good … reading"],
        "how_it_works": ["how … measure*", "how does … camera", "how does this work", "record … video", "camera record*"],
        "visit_length": ["how long", "take long", "how much time"],
    ]

    /// A responder answering from `knowledge`.
    public init(knowledge: ClinicKnowledge) {
        self.knowledge = knowledge
        var phrases = Self.questions
        for entry in knowledge.entries { phrases["clinic:" + entry.topic, default: []] += entry.asks }
        matcher = PhraseMatcher(phrases: phrases)
    }

    /// The reply to `transcript`, given the vitals just measured.
    public func reply(to transcript: String, vitals: TurnVitals) -> Reply {
        guard let intent = matcher.match(in: transcript)?.kind else {
            return Reply(intent: "unknown", text: "I'm sorry, I can't help with that here. Please ask a member of staff at the desk.")
        }
        if intent.hasPrefix("clinic:"), let entry = knowledge.entries.first(where: { "clinic:" + $0.topic == intent }) {
            return Reply(intent: entry.topic, text: entry.answer)
        }
        let text: String
        switch intent {
        case "heart_rate":
            if let rate = vitals.heartRateBpm, let quality = vitals.heartRateQuality {
                text = "Your heart rate was about \(Int(rate.rounded())) beats per minute, \(quality). A clinician will look at it with you."
            } else {
                text = "I don't have a heart-rate reading yet. Please face the camera and keep still for about fifteen seconds."
            }
        case "breathing":
            if let rate = vitals.respirationBpm {
                text = "You were breathing about \(Int(rate.rounded())) times a minute. A clinician will look at it with you."
            } else {
                text = "I don't have a breathing rate yet. Please keep still in front of the camera for about half a minute."
            }
        case "reliability":
            if let quality = vitals.heartRateQuality {
                text = "The camera measures from small changes in the colour of your skin; this one is \(quality). It is not a medical device reading, and a clinician will check anything that matters."
            } else {
                text = "There is no reading yet to judge. Readings are clearest when you keep still, face the camera, and the light is even."
            }
        case "how_it_works":
            text = "The camera sees tiny changes in your skin's colour with each heartbeat. The video is analysed on this kiosk and never stored or sent; only the numbers are kept."
        case "visit_length":
            text = "The measurement takes about a minute. How long the whole visit takes depends on the clinic; please ask at the desk."
        default:
            text = "I'm sorry, I can't help with that here. Please ask a member of staff at the desk."
        }
        return Reply(intent: intent, text: text)
    }
}
