import Foundation

/// The voice-turn settings: which provider does each stage, and what is kept.
public struct VoiceConfiguration: Sendable, Hashable {
    /// Speech-to-text providers.
    public enum SpeechToTextProvider: String, Sendable, Hashable, CaseIterable {
        case pocketsphinx
    }

    /// Responders.
    public enum ResponderProvider: String, Sendable, Hashable, CaseIterable {
        case offline
    }

    /// Text-to-speech providers.
    public enum TextToSpeechProvider: String, Sendable, Hashable, CaseIterable {
        case espeak
    }

    /// `HH_RELAY_SPEECH_TO_TEXT`.
    public var speechToText = SpeechToTextProvider.pocketsphinx
    /// `HH_RELAY_RESPONDER`.
    public var responder = ResponderProvider.offline
    /// `HH_RELAY_TEXT_TO_SPEECH`.
    public var textToSpeech = TextToSpeechProvider.espeak
    /// Folder of the clinics' knowledge files (`HH_RELAY_CLINIC_KNOWLEDGE_DIR`); `nil`: none.
    public var knowledgeDirectory: String?
    /// Days turn audio is kept in the object store; 0 keeps none (`HH_RELAY_AUDIO_RETENTION_DAYS`).
    public var audioRetentionDays = 0
    /// Largest voice-turn request body, bytes (`HH_RELAY_MAX_TURN_BYTES`).
    public var maximumTurnBytes = 16 << 20
    /// PocketSphinx decoders loaded, the turns recognised at once (`HH_RELAY_OFFLINE_DECODERS`).
    public var offlineDecoders = 2

    /// The defaults: everything offline, no audio kept.
    public init() {}

    /// The variables, with what each sets.
    public static let variables: [(name: String, meaning: String)] = [
        ("HH_RELAY_SPEECH_TO_TEXT", "speech to text: \(SpeechToTextProvider.allCases.map(\.rawValue).joined(separator: ", ")) (default pocketsphinx)"),
        ("HH_RELAY_RESPONDER", "replies: \(ResponderProvider.allCases.map(\.rawValue).joined(separator: ", ")) (default offline)"),
        ("HH_RELAY_TEXT_TO_SPEECH", "text to speech: \(TextToSpeechProvider.allCases.map(\.rawValue).joined(separator: ", ")) (default espeak)"),
        ("HH_RELAY_CLINIC_KNOWLEDGE_DIR", "folder of clinic knowledge files, <clinic id>.json or default.json (default none)"),
        ("HH_RELAY_AUDIO_RETENTION_DAYS", "days the voice turns' audio is kept in the object store, 0 keeps none (default 0)"),
        ("HH_RELAY_MAX_TURN_BYTES", "largest voice-turn request (default 16777216)"),
        ("HH_RELAY_OFFLINE_DECODERS", "PocketSphinx decoders, the turns recognised at once (default 2)"),
    ]

    /// Applies `values` over these settings.
    mutating func apply(_ values: [String: String]) throws(RelayConfigurationError) {
        func choice<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) throws(RelayConfigurationError) -> T? where T.RawValue == String {
            guard let text = values[name], !text.isEmpty else { return nil }
            guard let value = T(rawValue: text.lowercased()) else {
                throw RelayConfigurationError(name: name, message: "\"\(text)\" is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return value
        }
        func number(_ name: String, _ range: ClosedRange<Int>) throws(RelayConfigurationError) -> Int? {
            guard let text = values[name] else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw RelayConfigurationError(name: name, message: "\"\(text)\" is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return value
        }
        if let provider = try choice("HH_RELAY_SPEECH_TO_TEXT", SpeechToTextProvider.self) { speechToText = provider }
        if let provider = try choice("HH_RELAY_RESPONDER", ResponderProvider.self) { responder = provider }
        if let provider = try choice("HH_RELAY_TEXT_TO_SPEECH", TextToSpeechProvider.self) { textToSpeech = provider }
        if let directory = values["HH_RELAY_CLINIC_KNOWLEDGE_DIR"] { knowledgeDirectory = directory.isEmpty ? nil : directory }
        if let days = try number("HH_RELAY_AUDIO_RETENTION_DAYS", 0...3650) { audioRetentionDays = days }
        if let bytes = try number("HH_RELAY_MAX_TURN_BYTES", 4096...(1 << 30)) { maximumTurnBytes = bytes }
        if let count = try number("HH_RELAY_OFFLINE_DECODERS", 1...16) { offlineDecoders = count }
    }
}

extension VoiceTurnService {
    /// The service the configuration asks for: the configured providers, each cloud one with
    /// its offline fallback.
    public static func make(
        configuration: VoiceConfiguration, store: any RelayStore, objects: any ObjectStore, offline: OfflineVoice
    ) throws -> VoiceTurnService {
        let pipeline = VoicePipeline(
            speechToText: offline.speechToText, responder: offline.responder, textToSpeech: offline.textToSpeech)
        return VoiceTurnService(
            pipeline: pipeline, store: store, objects: objects, knowledge: try ClinicKnowledgeBook(directory: configuration.knowledgeDirectory),
            audioRetentionDays: configuration.audioRetentionDays)
    }
}

/// The offline providers, loaded once per process (PocketSphinx's model takes a moment and
/// tens of megabytes per decoder).
public struct OfflineVoice: Sendable {
    public var speechToText: any SpeechToText
    public var responder: any Responder
    public var textToSpeech: any TextToSpeech

    /// Loads PocketSphinx with `decoders` decoders, and eSpeak NG.
    public static func load(decoders: Int) throws -> OfflineVoice {
        OfflineVoice(speechToText: try PocketSphinxSpeechToText(decoders: decoders), responder: OfflineReplyResponder(), textToSpeech: try ESpeakTextToSpeech())
    }
}
