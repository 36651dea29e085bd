import Conversation
import Foundation
import HHProtocol
import Logging
import Metrics

/// The three stages of a voice turn and what holds them: a deadline per stage, the offline
/// provider behind each cloud one, the emergency check before any model, and the screen
/// after it.
public struct VoicePipeline: Sendable {
    /// The configured speech-to-text provider.
    public var speechToText: any SpeechToText
    /// The configured responder.
    public var responder: any Responder
    /// The configured text-to-speech provider.
    public var textToSpeech: any TextToSpeech
    /// What each stage falls back to when its provider fails (`nil`: the provider is the offline one).
    public var fallbacks: Fallbacks
    /// How long each stage may take.
    public var deadlines: Deadlines

    /// The offline providers behind cloud ones.
    public struct Fallbacks: Sendable {
        public var speechToText: (any SpeechToText)?
        public var responder: (any Responder)?
        public var textToSpeech: (any TextToSpeech)?

        /// Fallbacks.
        public init(speechToText: (any SpeechToText)? = nil, responder: (any Responder)? = nil, textToSpeech: (any TextToSpeech)? = nil) {
            self.speechToText = speechToText
            self.responder = responder
            self.textToSpeech = textToSpeech
        }
    }

    /// Per-stage deadlines.
    public struct Deadlines: Sendable {
        /// Speech to text, for the whole utterance.
        public var speechToText: Duration = .seconds(8)
        /// The responder, for the whole reply.
        public var responder: Duration = .seconds(10)
        /// Text to speech, for one sentence.
        public var textToSpeech: Duration = .seconds(8)

        /// The defaults.
        public init() {}
    }

    private let detector = EmergencyDetector()
    private let screen = ReplyScreen()

    /// A pipeline.
    public init(
        speechToText: any SpeechToText, responder: any Responder, textToSpeech: any TextToSpeech, fallbacks: Fallbacks = Fallbacks(),
        deadlines: Deadlines = Deadlines()
    ) {
        self.speechToText = speechToText
        self.responder = responder
        self.textToSpeech = textToSpeech
        self.fallbacks = fallbacks
        self.deadlines = deadlines
    }

    /// What a turn came to, before it is stored.
    public struct Outcome: Sendable {
        public var transcript: String
        public var replyText: String
        public var screened: Bool
        public var escalation: PhraseMatcher.Match?
        public var providers: VoiceTurnAnswer.Providers
        public var timings: (speechToText: Duration, responder: Duration)
    }

    /// Hears `audio`, answers it, and starts speaking the answer into `reply` (which goes on
    /// after this returns, until the whole reply is synthesised).
    public func run(
        _ audio: UtteranceAudio, language: String, vitals: TurnVitals, history: [ResponderContext.Exchange], clinic: ClinicKnowledge,
        into reply: ReplyAudio, logger: Logger
    ) async -> Outcome {
        var notes: [String] = []

        // 1. Speech to text, falling back to the offline recogniser.
        let heardStart = ContinuousClock.now
        var recognizer = speechToText.name
        var transcript = ""
        do {
            transcript = try await Self.measured(stage: "speech_to_text", provider: speechToText.name, within: deadlines.speechToText) {
                try await speechToText.transcribe(audio, language: language)
            }
        } catch {
            notes.append("speech_to_text: \(speechToText.name) failed (\(Self.reason(error)))")
            logger.warning("speech to text failed", metadata: ["provider": "\(speechToText.name)", "error": "\(error)"])
            if let fallback = fallbacks.speechToText {
                recognizer = fallback.name
                transcript = (try? await Self.measured(stage: "speech_to_text", provider: fallback.name, within: deadlines.speechToText) {
                    try await fallback.transcribe(audio, language: language)
                }) ?? ""
            }
        }
        let heard = ContinuousClock.now - heardStart

        // 2. Emergencies first: a fixed reply, no model.
        let answerStart = ContinuousClock.now
        let generation = reply.restart()
        let speaker = SentenceSpeaker(primary: textToSpeech, fallback: fallbacks.textToSpeech, language: language, deadline: deadlines.textToSpeech,
                                      reply: reply, generation: generation, logger: logger)
        if let emergency = detector.finding(in: transcript) {
            Metrics.Counter(label: "hh_relay_voice_escalations_total", dimensions: [("reason", emergency.kind)]).increment()
            let text = EmergencyReplies.text(for: language)
            speaker.say(text)
            speaker.finish()
            return Outcome(
                transcript: transcript, replyText: text, screened: false, escalation: emergency,
                providers: .init(speechToText: recognizer, responder: "emergency", textToSpeech: textToSpeech.name, fallbacks: notes),
                timings: (heard, ContinuousClock.now - answerStart))
        }

        // Nothing heard: ask again, no model.
        if transcript.isEmpty {
            speaker.say(Self.notHeard)
            speaker.finish()
            return Outcome(
                transcript: "", replyText: Self.notHeard, screened: false, escalation: nil,
                providers: .init(speechToText: recognizer, responder: "none", textToSpeech: textToSpeech.name, fallbacks: notes),
                timings: (heard, ContinuousClock.now - answerStart))
        }

        // 3. The responder, sentence by sentence into speech, each sentence screened first.
        let context = ResponderContext(transcript: transcript, language: language, vitals: vitals, history: history, clinic: clinic)
        var speaking = speaker
        var answered = await answer(context, with: responder, speaker: speaking)
        var responderName = responder.name
        if case .failed(let error) = answered.ending {
            notes.append("responder: \(responder.name) failed (\(Self.reason(error)))")
            logger.warning("responder failed", metadata: ["provider": "\(responder.name)", "error": "\(error)"])
            if let fallback = fallbacks.responder {
                speaking = speaking.restart()
                answered = await answer(context, with: fallback, speaker: speaking)
                responderName = fallback.name
            }
        }
        var text = answered.text
        var screened = false
        var failed = false
        if case .screened(let finding) = answered.ending {
            Metrics.Counter(label: "hh_relay_voice_screened_total", dimensions: [("kind", finding.kind)]).increment()
            logger.warning("reply screened", metadata: ["provider": "\(responderName)", "kind": "\(finding.kind)", "pattern": "\(finding.pattern)"])
            text = ReplyScreen.replacement
            screened = true
        } else if case .failed = answered.ending {
            failed = true
            text = "I'm sorry, I can't answer that right now. Please ask a member of staff at the desk."
        }
        if screened || failed {
            let restarted = speaking.restart()
            restarted.say(text)
            restarted.finish()
        }
        return Outcome(
            transcript: transcript, replyText: text, screened: screened, escalation: nil,
            providers: .init(speechToText: recognizer, responder: responderName, textToSpeech: textToSpeech.name, fallbacks: notes),
            timings: (heard, ContinuousClock.now - answerStart))
    }

    /// The reply when no words were recognised.
    static let notHeard = "Sorry, I didn't catch that. Could you say it again?"

    private enum Ending: Sendable {
        case complete
        case screened(PhraseMatcher.Match)
        case failed(any Error)
    }

    /// Streams `responder`'s reply into sentences, screens each, and hands the good ones to
    /// `speaker` as they complete.
    private func answer(_ context: ResponderContext, with responder: any Responder, speaker: SentenceSpeaker) async -> (text: String, ending: Ending) {
        let screen = self.screen
        do {
            let (sentences, ending) = try await Self.measured(stage: "responder", provider: responder.name, within: deadlines.responder) {
                () async throws -> ([String], Ending) in
                var splitter = SentenceSplitter()
                var sentences: [String] = []
                for try await piece in responder.respond(to: context) {
                    for sentence in splitter.add(piece) {
                        if let finding = screen.finding(in: sentence) { return (sentences, .screened(finding)) }
                        sentences.append(sentence)
                        speaker.say(sentence)
                    }
                }
                if let rest = splitter.finish() {
                    if let finding = screen.finding(in: rest) { return (sentences, .screened(finding)) }
                    sentences.append(rest)
                    speaker.say(rest)
                }
                guard !sentences.isEmpty else { throw VoiceProviderError.empty("the responder answered nothing") }
                return (sentences, .complete)
            }
            if case .complete = ending { speaker.finish() }
            return (sentences.joined(separator: " "), ending)
        } catch {
            return ("", .failed(error))
        }
    }

    /// Runs `body` within `deadline`, recording its latency, or its failure, per stage and provider.
    static func measured<T: Sendable>(stage: String, provider: String, within deadline: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        do {
            let value = try await within(deadline, body)
            Metrics.Timer(label: "hh_relay_voice_stage_duration", dimensions: [("stage", stage), ("provider", provider)])
                .record(duration: ContinuousClock.now - start)
            return value
        } catch {
            failure(stage: stage, provider: provider, error)
            throw error
        }
    }

    static func failure(stage: String, provider: String, _ error: any Error) {
        let kind = error is VoiceProviderError ? (error as! VoiceProviderError).kind : "error"
        Metrics.Counter(label: "hh_relay_voice_stage_failures_total", dimensions: [("stage", stage), ("provider", provider), ("kind", kind)]).increment()
    }

    /// `body`'s result, or ``VoiceProviderError/timedOut(_:)`` after `deadline`.
    static func within<T: Sendable>(_ deadline: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withDeadline(deadline, timedOut: { VoiceProviderError.timedOut(deadline) }, body)
    }

    static func reason(_ error: any Error) -> String {
        (error as? VoiceProviderError)?.description ?? String(describing: error)
    }
}

/// Why a provider gave no answer.
public enum VoiceProviderError: Error, Sendable, CustomStringConvertible {
    /// It did not answer within its deadline.
    case timedOut(Duration)
    /// It answered with an HTTP error (status, its words).
    case status(Int, String)
    /// It refused for too many requests.
    case throttled(String)
    /// Its answer could not be read.
    case malformed(String)
    /// It answered, with nothing.
    case empty(String)
    /// It could not be reached.
    case unreachable(String)

    public var description: String {
        switch self {
        case .timedOut(let deadline): "no answer within \(deadline)"
        case .status(let code, let message): "HTTP \(code): \(message)"
        case .throttled(let message): "throttled: \(message)"
        case .malformed(let message): "unreadable answer: \(message)"
        case .empty(let message): message
        case .unreachable(let message): "unreachable: \(message)"
        }
    }

    /// The metrics' `kind`.
    var kind: String {
        switch self {
        case .timedOut: "timeout"
        case .status: "status"
        case .throttled: "throttled"
        case .malformed: "malformed"
        case .empty: "empty"
        case .unreachable: "unreachable"
        }
    }
}

/// Speaks sentences into a reply in order, one synthesis at a time, falling back to the offline
/// synthesiser from the sentence where the configured one fails.
final class SentenceSpeaker: Sendable {
    private let primary: any TextToSpeech
    private let fallback: (any TextToSpeech)?
    private let language: String
    private let deadline: Duration
    private let reply: ReplyAudio
    private let generation: Int
    private let logger: Logger
    private let queue: AsyncStream<String?>.Continuation

    init(primary: any TextToSpeech, fallback: (any TextToSpeech)?, language: String, deadline: Duration, reply: ReplyAudio, generation: Int, logger: Logger) {
        self.primary = primary
        self.fallback = fallback
        self.language = language
        self.deadline = deadline
        self.reply = reply
        self.generation = generation
        self.logger = logger
        let (sentences, queue) = AsyncStream<String?>.makeStream()
        self.queue = queue
        // Outlives the request: the reply goes on being spoken after the turn is answered,
        // and ends when its last sentence is (a bounded number, each within the deadline).
        Task { [primary, fallback, language, deadline, reply, generation, logger] in
            var speaker: any TextToSpeech = primary
            for await sentence in sentences {
                guard let sentence else { break }
                do {
                    try await Self.speak(sentence, with: speaker, language: language, deadline: deadline, into: reply, generation: generation)
                } catch {
                    VoicePipeline.failure(stage: "text_to_speech", provider: speaker.name, error)
                    logger.warning("text to speech failed", metadata: ["provider": "\(speaker.name)", "error": "\(error)"])
                    guard let fallback, speaker.name != fallback.name else { continue }
                    speaker = fallback
                    try? await Self.speak(sentence, with: fallback, language: language, deadline: deadline, into: reply, generation: generation)
                }
            }
            reply.finish(generation: generation)
        }
    }

    private static func speak(_ sentence: String, with speaker: any TextToSpeech, language: String, deadline: Duration, into reply: ReplyAudio, generation: Int) async throws {
        let start = ContinuousClock.now
        try await VoicePipeline.within(deadline) {
            for try await samples in speaker.speak(sentence, language: language) { reply.append(samples, generation: generation) }
        }
        Metrics.Timer(label: "hh_relay_voice_stage_duration", dimensions: [("stage", "text_to_speech"), ("provider", speaker.name)])
            .record(duration: ContinuousClock.now - start)
    }

    /// Queues `sentence` to be spoken.
    func say(_ sentence: String) {
        queue.yield(sentence)
    }

    /// No more sentences: the reply is complete once the queued ones are spoken.
    func finish() {
        queue.yield(nil)
        queue.finish()
    }

    /// Abandons this reply's sentences and returns a speaker for the reply started over.
    func restart() -> SentenceSpeaker {
        queue.finish()
        return SentenceSpeaker(primary: primary, fallback: fallback, language: language, deadline: deadline, reply: reply,
                               generation: reply.restart(), logger: logger)
    }
}

/// The fixed reply to an emergency: staff now, emergency services if alone.
public enum EmergencyReplies {
    /// The reply in `language` (English for a language without one).
    public static func text(for language: String) -> String {
        switch language.lowercased().prefix(2) {
        case "es": "Esto puede ser una emergencia. Avise ahora mismo al personal de la clínica; si está solo, llame al 112. Ya hemos avisado al personal."
        case "fr": "Cela peut être une urgence. Prévenez tout de suite le personnel de la clinique ; si vous êtes seul, appelez le 112. Le personnel a été alerté."
        case "de": "Das kann ein Notfall sein. Sagen Sie sofort dem Personal Bescheid; wenn Sie allein sind, rufen Sie 112 an. Das Personal ist informiert."
        default: "This may be an emergency. Please tell a member of staff right now, or call emergency services if you are alone. Staff have been alerted."
        }
    }
}
