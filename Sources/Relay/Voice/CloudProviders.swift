import AsyncHTTPClient
import AWSEventStream
import AWSSigning
import Conversation
import Foundation
import HHProtocol
import NIOCore
import NIOFoundationCompat

/// Amazon Bedrock's `ConverseStream`: the reply streamed as the model writes it (an AWS event
/// stream), with the versioned system prompt, the conversation so far, the vitals with their
/// quality and the clinic's facts (and, if configured, passages a Knowledge Base retrieves)
/// in context; an optional Guardrail applied by Bedrock itself.
public struct BedrockResponder: Responder {
    public let name = "bedrock"
    let runtime: ProviderHTTP
    let agentRuntime: ProviderHTTP?
    let modelID: String
    let guardrail: (id: String, version: String)?
    let knowledgeBaseID: String?
    let deadline: Duration

    /// A responder calling `modelID` in `region` (endpoints overridable for tests), with a
    /// Guardrail and a Knowledge Base when their ids are given.
    public init(
        modelID: String, region: String, credentials: any AWSCredentialProvider, guardrail: (id: String, version: String)?, knowledgeBaseID: String?,
        runtimeEndpoint: ProviderEndpoint? = nil, agentEndpoint: ProviderEndpoint? = nil, httpClient: HTTPClient = .shared,
        deadline: Duration = .seconds(10)
    ) {
        self.modelID = modelID
        self.guardrail = guardrail
        self.knowledgeBaseID = knowledgeBaseID
        self.deadline = deadline
        runtime = .bedrock(region: region, credentials: credentials, endpoint: runtimeEndpoint, httpClient: httpClient)
        agentRuntime = knowledgeBaseID.map { _ in
            .bedrock(region: region, credentials: credentials, endpoint: agentEndpoint, httpClient: httpClient, host: "bedrock-agent-runtime")
        }
    }

    /// The system prompt shipped with the relay (`Resources/system-prompt.txt`), and its version.
    public static let systemPrompt: (version: String, text: String) = {
        guard let url = Bundle.module.url(forResource: "system-prompt", withExtension: "txt"),
              let text = try? String(contentsOf: url, encoding: .utf8), let firstLine = text.split(separator: "\n").first
        else { return ("missing", "You are a clinic kiosk's assistant. Never diagnose or prescribe.") }
        return (firstLine.replacingOccurrences(of: "version: ", with: ""), text.split(separator: "\n", maxSplits: 1).last.map(String.init) ?? text)
    }()

    public func respond(to context: ResponderContext) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let passages = try await retrieve(context.transcript)
                    let body = try Self.requestBody(context, passages: passages, guardrail: guardrail)
                    let response = try await runtime.post(
                        path: "/model/\(SigV4Encoding.encode(modelID, keepingSlashes: false))/converse-stream", body: body,
                        contentType: "application/json", accept: "application/vnd.amazon.eventstream", deadline: deadline)
                    var decoder = EventStreamDecoder()
                    var stopped = false
                    for try await piece in response.body {
                        decoder.append(piece.readableBytesView)
                        while let message = try decoder.next() {
                            switch try Self.event(message) {
                            case .text(let text): continuation.yield(text)
                            case .stop: stopped = true
                            case .other: break
                            }
                        }
                    }
                    guard stopped else { throw VoiceProviderError.malformed("the stream ended before messageStop") }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// What one event of the stream says.
    enum Event: Equatable {
        case text(String)
        case stop
        case other
    }

    static func event(_ message: EventStreamMessage) throws -> Event {
        let payload = (try? JSONSerialization.jsonObject(with: Data(message.payload))) as? [String: Any] ?? [:]
        switch message.string(":message-type") {
        case "event":
            switch message.string(":event-type") {
            case "contentBlockDelta":
                return ((payload["delta"] as? [String: Any])?["text"] as? String).map(Event.text) ?? .other
            case "messageStop": return .stop
            default: return .other
            }
        case "exception":
            let type = message.string(":exception-type") ?? "exception"
            let text = "\(type): \(payload["message"] as? String ?? "no details")"
            throw type == "throttlingException" ? VoiceProviderError.throttled(text) : VoiceProviderError.status(500, text)
        default:
            throw VoiceProviderError.malformed("an event-stream message of type \(message.string(":message-type") ?? "none")")
        }
    }

    /// The `ConverseStream` request: system prompt, clinic facts and vitals as system text;
    /// the conversation as alternating turns ending with the patient's.
    static func requestBody(_ context: ResponderContext, passages: [String], guardrail: (id: String, version: String)?) throws -> [UInt8] {
        var system = systemPrompt.text
        system += "\n\nVitals measured just now:\n" + vitalsText(context.vitals)
        let facts = context.clinic.entries.map { "- \($0.answer)" }
        system += "\n\nClinic facts (the only clinic facts you may state) for \(context.clinic.name.isEmpty ? "this clinic" : context.clinic.name):\n"
            + (facts.isEmpty ? "- none given" : facts.joined(separator: "\n"))
        if !passages.isEmpty { system += "\n\nApproved patient information:\n" + passages.map { "- \($0)" }.joined(separator: "\n") }
        system += "\n\nAnswer in the language with code \(context.language)."
        var messages: [[String: Any]] = []
        for exchange in context.history {
            messages.append(["role": "user", "content": [["text": exchange.patient.isEmpty ? "(inaudible)" : exchange.patient]]])
            messages.append(["role": "assistant", "content": [["text": exchange.assistant]]])
        }
        messages.append(["role": "user", "content": [["text": context.transcript]]])
        var body: [String: Any] = [
            "system": [["text": system]], "messages": messages, "inferenceConfig": ["maxTokens": 300, "temperature": 0.2],
        ]
        if let guardrail {
            body["guardrailConfig"] = ["guardrailIdentifier": guardrail.id, "guardrailVersion": guardrail.version, "streamProcessingMode": "sync"]
        }
        return Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
    }

    /// The vitals in words, each with its quality; "not measured" where the kiosk had none.
    static func vitalsText(_ vitals: TurnVitals) -> String {
        var lines: [String] = []
        if let rate = vitals.heartRateBpm, let quality = vitals.heartRateQuality {
            lines.append("- Heart rate: about \(Int(rate.rounded())) beats per minute; \(quality)" + (vitals.heartRateSnrDb.map { " (signal-to-noise \(String(format: "%.1f", $0)) dB)" } ?? "") + ".")
        } else {
            lines.append("- Heart rate: not measured yet. Do not give a number.")
        }
        if let rate = vitals.respirationBpm {
            lines.append("- Breathing rate: about \(Int(rate.rounded())) breaths per minute.")
        } else {
            lines.append("- Breathing rate: not measured yet. Do not give a number.")
        }
        return lines.joined(separator: "\n")
    }

    /// Passages of the Knowledge Base for `question` (none without one).
    private func retrieve(_ question: String) async throws -> [String] {
        guard let agentRuntime, let knowledgeBaseID else { return [] }
        let body = try JSONSerialization.data(withJSONObject: [
            "retrievalQuery": ["text": question], "retrievalConfiguration": ["vectorSearchConfiguration": ["numberOfResults": 3]],
        ])
        let response = try await agentRuntime.post(
            path: "/knowledgebases/\(SigV4Encoding.encode(knowledgeBaseID, keepingSlashes: false))/retrieve", body: Array(body),
            contentType: "application/json", deadline: deadline)
        let bytes = try await response.body.collect(upTo: 1 << 20)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any],
              let results = object["retrievalResults"] as? [[String: Any]]
        else { throw VoiceProviderError.malformed("a Retrieve answer without retrievalResults") }
        return results.compactMap { ($0["content"] as? [String: Any])?["text"] as? String }
    }
}

/// Amazon Polly's `SynthesizeSpeech`: 16 kHz 16-bit PCM, streamed as Polly sends it.
public struct PollyTextToSpeech: TextToSpeech {
    public let name = "polly"
    let http: ProviderHTTP
    let voices: [String: String]
    let engine: String
    let deadline: Duration

    /// Speaks with `voice` for English (and Polly's usual voice for Spanish, French, German).
    public init(
        region: String, credentials: any AWSCredentialProvider, voice: String = "Joanna", engine: String = "neural",
        endpoint: ProviderEndpoint? = nil, httpClient: HTTPClient = .shared, deadline: Duration = .seconds(8)
    ) {
        http = ProviderHTTP(
            endpoint: endpoint ?? ProviderEndpoint(host: "polly.\(region).amazonaws.com"), httpClient: httpClient,
            authentication: .sigV4(SigV4Signer(region: region, service: "polly"), credentials))
        voices = ["en": voice, "es": "Lucia", "fr": "Lea", "de": "Vicki"]
        self.engine = engine
        self.deadline = deadline
    }

    public func speak(_ text: String, language: String) -> AsyncThrowingStream<[Int16], any Error> {
        let voice = voices[String(language.lowercased().prefix(2))] ?? voices["en"]!
        let body = (try? JSONSerialization.data(withJSONObject: [
            "Text": text, "OutputFormat": "pcm", "SampleRate": "16000", "VoiceId": voice, "Engine": engine,
        ], options: [.sortedKeys])).map(Array.init) ?? []
        return streamPCM { [http, deadline] in
            try await http.post(path: "/v1/speech", body: body, contentType: "application/json", deadline: deadline)
        }
    }
}

/// Cartesia's `/tts/bytes`: raw 16 kHz 16-bit PCM, streamed.
public struct CartesiaTextToSpeech: TextToSpeech {
    public let name = "cartesia"
    let http: ProviderHTTP
    let voiceID: String
    let model: String
    let deadline: Duration

    /// Speaks with the voice `voiceID` of `model`, with an API key.
    public init(
        apiKey: String, voiceID: String, model: String = "sonic-2", endpoint: ProviderEndpoint? = nil, httpClient: HTTPClient = .shared,
        deadline: Duration = .seconds(8)
    ) {
        http = ProviderHTTP(
            endpoint: endpoint ?? ProviderEndpoint(host: "api.cartesia.ai"), httpClient: httpClient,
            authentication: .headers([("X-API-Key", apiKey), ("Cartesia-Version", "2024-06-10")]))
        self.voiceID = voiceID
        self.model = model
        self.deadline = deadline
    }

    public func speak(_ text: String, language: String) -> AsyncThrowingStream<[Int16], any Error> {
        let body = (try? JSONSerialization.data(withJSONObject: [
            "model_id": model, "transcript": text, "voice": ["mode": "id", "id": voiceID], "language": String(language.lowercased().prefix(2)),
            "output_format": ["container": "raw", "encoding": "pcm_s16le", "sample_rate": 16_000],
        ], options: [.sortedKeys])).map(Array.init) ?? []
        return streamPCM { [http, deadline] in
            try await http.post(path: "/tts/bytes", body: body, contentType: "application/json", deadline: deadline)
        }
    }
}

/// A response body of raw 16-bit PCM as a stream of samples; an empty body is an error.
func streamPCM(_ send: @escaping @Sendable () async throws -> HTTPClientResponse) -> AsyncThrowingStream<[Int16], any Error> {
    AsyncThrowingStream { continuation in
        let task = Task {
            do {
                let response = try await send()
                var assembler = PCMAssembler()
                var any = false
                for try await piece in response.body {
                    let samples = assembler.samples(from: piece)
                    if !samples.isEmpty { any = true; continuation.yield(samples) }
                }
                guard any else { throw VoiceProviderError.empty("no audio in the answer") }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
    }
}

/// Deepgram's pre-recorded `/v1/listen`: the utterance as a WAV file, the transcript back.
public struct DeepgramSpeechToText: SpeechToText {
    public let name = "deepgram"
    let http: ProviderHTTP
    let model: String
    let deadline: Duration

    /// A recogniser with an API key.
    public init(apiKey: String, model: String = "nova-2", endpoint: ProviderEndpoint? = nil, httpClient: HTTPClient = .shared, deadline: Duration = .seconds(8)) {
        http = ProviderHTTP(
            endpoint: endpoint ?? ProviderEndpoint(host: "api.deepgram.com"), httpClient: httpClient,
            authentication: .headers([("Authorization", "Token \(apiKey)")]))
        self.model = model
        self.deadline = deadline
    }

    public func transcribe(_ audio: UtteranceAudio, language: String) async throws -> String {
        let wav = WAVStream.file(audio.samples)
        let response = try await http.post(
            path: "/v1/listen", query: [.init("language", language), .init("model", model), .init("smart_format", "true")],
            body: Array(wav.readableBytesView), contentType: "audio/wav", deadline: deadline)
        let bytes = try await response.body.collect(upTo: 1 << 20)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any],
              let channels = (object["results"] as? [String: Any])?["channels"] as? [[String: Any]],
              let alternatives = channels.first?["alternatives"] as? [[String: Any]],
              let transcript = alternatives.first?["transcript"] as? String
        else { throw VoiceProviderError.malformed("a Deepgram answer without results.channels[0].alternatives[0].transcript") }
        return transcript
    }
}
