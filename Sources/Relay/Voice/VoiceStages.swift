import Conversation
import Foundation
import HHProtocol
import SpeechEngines

/// An utterance as the stages take it: 16 kHz mono, 16-bit.
public struct UtteranceAudio: Sendable, Hashable {
    /// The one sample rate of every stage.
    public static let sampleRate = 16_000
    /// The samples.
    public var samples: [Int16]

    /// Audio of `samples`.
    public init(samples: [Int16]) { self.samples = samples }

    /// Its length in seconds.
    public var duration: Double { Double(samples.count) / Double(Self.sampleRate) }
}

/// Speech to text: one provider (PocketSphinx, Amazon Transcribe, Deepgram).
public protocol SpeechToText: Sendable {
    /// The provider's name, as metrics and answers report it.
    var name: String { get }
    /// What was said in `audio`, in `language`; empty when nothing was recognised.
    func transcribe(_ audio: UtteranceAudio, language: String) async throws -> String
}

/// What a responder knows when it answers.
public struct ResponderContext: Sendable, Hashable {
    /// What the patient just said.
    public var transcript: String
    /// The language to answer in.
    public var language: String
    /// The vitals the kiosk sent with the turn.
    public var vitals: TurnVitals
    /// The conversation so far in this session, oldest first.
    public var history: [Exchange]
    /// The clinic's own facts.
    public var clinic: ClinicKnowledge

    /// One earlier turn.
    public struct Exchange: Sendable, Hashable {
        public var patient: String
        public var assistant: String

        /// An exchange.
        public init(patient: String, assistant: String) {
            self.patient = patient
            self.assistant = assistant
        }
    }

    /// A context.
    public init(transcript: String, language: String, vitals: TurnVitals, history: [Exchange], clinic: ClinicKnowledge) {
        self.transcript = transcript
        self.language = language
        self.vitals = vitals
        self.history = history
        self.clinic = clinic
    }
}

/// The language-model stage: one provider (Amazon Bedrock, the offline responder).
public protocol Responder: Sendable {
    /// The provider's name.
    var name: String { get }
    /// The reply's text in pieces as it is written (a model streams; the offline responder
    /// answers in one piece).
    func respond(to context: ResponderContext) -> AsyncThrowingStream<String, any Error>
}

/// Text to speech: one provider (eSpeak NG, Amazon Polly, Cartesia).
public protocol TextToSpeech: Sendable {
    /// The provider's name.
    var name: String { get }
    /// `text` spoken in `language`: 16 kHz mono 16-bit samples in pieces as they are made.
    func speak(_ text: String, language: String) -> AsyncThrowingStream<[Int16], any Error>
}

/// PocketSphinx, the offline default (US English model: other languages are heard as English
/// words, which the emergency check still reads; use a cloud recogniser for them).
public struct PocketSphinxSpeechToText: SpeechToText {
    public let name = "pocketsphinx"
    private let recognizer: PocketSphinxRecognizer

    /// Wraps a loaded recogniser.
    public init(recognizer: PocketSphinxRecognizer) { self.recognizer = recognizer }

    /// Loads the model with the kiosk's grammar (``OfflineQuestions``).
    public init(decoders: Int) throws {
        recognizer = try PocketSphinxRecognizer(grammar: OfflineQuestions.jsgf, decoders: decoders)
    }

    public func transcribe(_ audio: UtteranceAudio, language: String) async throws -> String {
        try await recognizer.transcribe(audio.samples).text
    }
}

/// The offline responder: answers from the vitals and the clinic's file only.
public struct OfflineReplyResponder: Responder {
    public let name = "offline"

    /// A responder.
    public init() {}

    public func respond(to context: ResponderContext) -> AsyncThrowingStream<String, any Error> {
        let reply = OfflineResponder(knowledge: context.clinic).reply(to: context.transcript, vitals: context.vitals)
        return AsyncThrowingStream { continuation in
            continuation.yield(reply.text)
            continuation.finish()
        }
    }
}

/// eSpeak NG, the offline default.
public struct ESpeakTextToSpeech: TextToSpeech {
    public let name = "espeak-ng"
    private let synthesizer: ESpeakSynthesizer

    /// Initialises the library.
    public init() throws { synthesizer = try ESpeakSynthesizer() }

    public func speak(_ text: String, language: String) -> AsyncThrowingStream<[Int16], any Error> {
        synthesizer.speak(text, language: language)
    }
}

/// The clinics' knowledge files: `<clinic id>.json` in a folder, `default.json` for a clinic
/// without its own; read once at start. A clinic with neither has no facts, and its patients
/// are told to ask at the desk.
public struct ClinicKnowledgeBook: Sendable {
    private let files: [String: ClinicKnowledge]

    /// Reads every `*.json` in `directory` (none when it is `nil`).
    ///
    /// - Throws: naming the file, when one is not a knowledge file.
    public init(directory: String?) throws {
        var files: [String: ClinicKnowledge] = [:]
        if let directory {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".json") {
                let path = directory + "/" + name
                do {
                    files[String(name.dropLast(5))] = try ClinicKnowledge.load(from: Data(contentsOf: URL(fileURLWithPath: path)))
                } catch {
                    throw RelayConfigurationError(name: "HH_RELAY_CLINIC_KNOWLEDGE_DIR", message: "\(path) is not a clinic knowledge file: \(error)")
                }
            }
        }
        self.files = files
    }

    /// A book of the given files (tests).
    public init(files: [String: ClinicKnowledge]) { self.files = files }

    /// The knowledge of `clinicID`.
    public func knowledge(of clinicID: String) -> ClinicKnowledge {
        files[clinicID] ?? files["default"] ?? ClinicKnowledge(name: "", entries: [])
    }
}
