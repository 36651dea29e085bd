import AWSSigning
import Foundation
import Logging

/// The voice-turn settings: which provider does each stage, and what is kept.
public struct VoiceConfiguration: Sendable, Hashable {
    /// Speech-to-text providers.
    public enum SpeechToTextProvider: String, Sendable, Hashable, CaseIterable {
        case pocketsphinx, transcribe, deepgram
    }

    /// Responders.
    public enum ResponderProvider: String, Sendable, Hashable, CaseIterable {
        case offline, bedrock
    }

    /// Text-to-speech providers.
    public enum TextToSpeechProvider: String, Sendable, Hashable, CaseIterable {
        case espeak, polly, cartesia
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
    /// The AWS region of Bedrock, Polly and Transcribe (`HH_RELAY_AWS_REGION`, else `AWS_REGION`).
    public var awsRegion = "us-east-1"
    /// Bedrock's model (`HH_RELAY_BEDROCK_MODEL_ID`).
    public var bedrockModelID = "anthropic.claude-3-haiku-20240307-v1:0"
    /// A Bedrock Guardrail and its version (`HH_RELAY_BEDROCK_GUARDRAIL_ID`, `…_VERSION`).
    public var bedrockGuardrailID: String?
    public var bedrockGuardrailVersion = "DRAFT"
    /// A Bedrock Knowledge Base to retrieve approved information from (`HH_RELAY_BEDROCK_KNOWLEDGE_BASE_ID`).
    public var bedrockKnowledgeBaseID: String?
    /// Polly's voice for English (`HH_RELAY_POLLY_VOICE`).
    public var pollyVoice = "Joanna"
    /// Deepgram's API key (`HH_RELAY_DEEPGRAM_API_KEY`).
    public var deepgramAPIKey: String?
    /// Cartesia's API key and voice (`HH_RELAY_CARTESIA_API_KEY`, `HH_RELAY_CARTESIA_VOICE_ID`).
    public var cartesiaAPIKey: String?
    public var cartesiaVoiceID: String?
    /// Endpoints other than the providers' own, by provider (`HH_RELAY_<PROVIDER>_ENDPOINT`:
    /// `BEDROCK`, `BEDROCK_AGENT`, `POLLY`, `TRANSCRIBE`, `DEEPGRAM`, `CARTESIA`), for tests and private endpoints.
    public var endpoints: [String: ProviderEndpoint] = [:]

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
        ("HH_RELAY_AWS_REGION", "region of Bedrock, Polly and Transcribe (default AWS_REGION, else us-east-1)"),
        ("HH_RELAY_BEDROCK_MODEL_ID", "Bedrock model (default anthropic.claude-3-haiku-20240307-v1:0)"),
        ("HH_RELAY_BEDROCK_GUARDRAIL_ID", "a Bedrock Guardrail applied to every reply (default none)"),
        ("HH_RELAY_BEDROCK_GUARDRAIL_VERSION", "its version (default DRAFT)"),
        ("HH_RELAY_BEDROCK_KNOWLEDGE_BASE_ID", "a Bedrock Knowledge Base of approved patient information (default none)"),
        ("HH_RELAY_POLLY_VOICE", "Polly voice for English (default Joanna)"),
        ("HH_RELAY_DEEPGRAM_API_KEY", "Deepgram API key (required with deepgram)"),
        ("HH_RELAY_CARTESIA_API_KEY", "Cartesia API key (required with cartesia)"),
        ("HH_RELAY_CARTESIA_VOICE_ID", "Cartesia voice id (required with cartesia)"),
        ("HH_RELAY_<PROVIDER>_ENDPOINT", "another endpoint for BEDROCK, BEDROCK_AGENT, POLLY, TRANSCRIBE, DEEPGRAM or CARTESIA, e.g. http://127.0.0.1:9000"),
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
        func text(_ name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let region = text("HH_RELAY_AWS_REGION") ?? text("AWS_REGION") ?? text("AWS_DEFAULT_REGION") {
            guard region.allSatisfy(Set("abcdefghijklmnopqrstuvwxyz0123456789-").contains) else {
                throw RelayConfigurationError(name: "HH_RELAY_AWS_REGION", message: "\"\(region)\" is not a region name such as eu-west-1")
            }
            awsRegion = region
        }
        if let model = text("HH_RELAY_BEDROCK_MODEL_ID") { bedrockModelID = model }
        if let id = text("HH_RELAY_BEDROCK_GUARDRAIL_ID") { bedrockGuardrailID = id }
        if let version = text("HH_RELAY_BEDROCK_GUARDRAIL_VERSION") { bedrockGuardrailVersion = version }
        if let id = text("HH_RELAY_BEDROCK_KNOWLEDGE_BASE_ID") { bedrockKnowledgeBaseID = id }
        if let voice = text("HH_RELAY_POLLY_VOICE") { pollyVoice = voice }
        if let key = text("HH_RELAY_DEEPGRAM_API_KEY") { deepgramAPIKey = key }
        if let key = text("HH_RELAY_CARTESIA_API_KEY") { cartesiaAPIKey = key }
        if let voice = text("HH_RELAY_CARTESIA_VOICE_ID") { cartesiaVoiceID = voice }
        for provider in ["BEDROCK", "BEDROCK_AGENT", "POLLY", "TRANSCRIBE", "DEEPGRAM", "CARTESIA"] {
            let name = "HH_RELAY_\(provider)_ENDPOINT"
            guard let value = text(name) else { continue }
            guard let endpoint = ProviderEndpoint(value) else {
                throw RelayConfigurationError(name: name, message: "\"\(value)\" is not an http:// or https:// origin")
            }
            endpoints[provider] = endpoint
        }
        if speechToText == .deepgram, deepgramAPIKey == nil {
            throw RelayConfigurationError(name: "HH_RELAY_DEEPGRAM_API_KEY", message: "is required when HH_RELAY_SPEECH_TO_TEXT is deepgram")
        }
        if textToSpeech == .cartesia, cartesiaAPIKey == nil || cartesiaVoiceID == nil {
            throw RelayConfigurationError(name: "HH_RELAY_CARTESIA_API_KEY", message: "and HH_RELAY_CARTESIA_VOICE_ID are required when HH_RELAY_TEXT_TO_SPEECH is cartesia")
        }
    }
}

extension VoiceTurnService {
    /// The service the configuration asks for: the configured providers, each cloud one with
    /// its offline fallback.
    public static func make(
        configuration: VoiceConfiguration, store: any RelayStore, objects: any ObjectStore, offline: OfflineVoice,
        environment: [String: String], logger: Logger
    ) throws -> VoiceTurnService {
        let pipeline = try configuration.pipeline(offline: offline, environment: environment, logger: logger)
        return VoiceTurnService(
            pipeline: pipeline, store: store, objects: objects, knowledge: try ClinicKnowledgeBook(directory: configuration.knowledgeDirectory),
            audioRetentionDays: configuration.audioRetentionDays)
    }
}

extension VoiceConfiguration {
    /// The pipeline of the configured providers, each cloud one backed by its offline one.
    public func pipeline(offline: OfflineVoice, environment: [String: String], logger: Logger) throws -> VoicePipeline {
        var credentials: (any AWSCredentialProvider)?
        func aws() throws -> any AWSCredentialProvider {
            if let credentials { return credentials }
            let provider = try AWSCredentialChain.provider(environment: environment)
            credentials = provider
            return provider
        }
        let speechToText: any SpeechToText = switch self.speechToText {
        case .pocketsphinx: offline.speechToText
        case .transcribe: TranscribeSpeechToText(region: awsRegion, credentials: try aws(), endpoint: endpoints["TRANSCRIBE"], logger: logger)
        case .deepgram: DeepgramSpeechToText(apiKey: deepgramAPIKey ?? "", endpoint: endpoints["DEEPGRAM"])
        }
        let responder: any Responder = switch self.responder {
        case .offline: offline.responder
        case .bedrock:
            BedrockResponder(
                modelID: bedrockModelID, region: awsRegion, credentials: try aws(),
                guardrail: bedrockGuardrailID.map { ($0, bedrockGuardrailVersion) }, knowledgeBaseID: bedrockKnowledgeBaseID,
                runtimeEndpoint: endpoints["BEDROCK"], agentEndpoint: endpoints["BEDROCK_AGENT"])
        }
        let textToSpeech: any TextToSpeech = switch self.textToSpeech {
        case .espeak: offline.textToSpeech
        case .polly: PollyTextToSpeech(region: awsRegion, credentials: try aws(), voice: pollyVoice, endpoint: endpoints["POLLY"])
        case .cartesia: CartesiaTextToSpeech(apiKey: cartesiaAPIKey ?? "", voiceID: cartesiaVoiceID ?? "", endpoint: endpoints["CARTESIA"])
        }
        return VoicePipeline(
            speechToText: speechToText, responder: responder, textToSpeech: textToSpeech,
            fallbacks: .init(
                speechToText: self.speechToText == .pocketsphinx ? nil : offline.speechToText,
                responder: self.responder == .offline ? nil : offline.responder,
                textToSpeech: self.textToSpeech == .espeak ? nil : offline.textToSpeech))
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
