import AWSSigning
import Conversation
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HHProtocol
import Logging
import NIOCore
import Relay
import TestSupport
import Testing

/// The fakes of scripts/voice-fakes.py: Bedrock, Polly, Transcribe, Deepgram and Cartesia as
/// their wire formats say, signatures checked with botocore.
final class VoiceFakes: @unchecked Sendable {
    let process = Process()
    let port = freePort()
    static let accessKey = "AKIDVOICEFAKES00001", secretKey = "voice-fakes-secret-key", apiKey = "fake-api-key-123"

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/voice-fakes.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, String(port), Self.accessKey, Self.secretKey, Self.apiKey]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<150 where !canConnect(port: port) { Thread.sleep(forTimeInterval: 0.1) }
        guard canConnect(port: port) else { throw TestSetupError("voice-fakes.py did not start (pip install aiohttp botocore)") }
    }

    deinit {
        // Killed outright: a graceful stop would wait for the clients' idle keep-alive connections.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var endpoint: ProviderEndpoint { ProviderEndpoint("http://127.0.0.1:\(port)")! }
    var credentials: any AWSCredentialProvider { StaticCredentialProvider(AWSCredentials(accessKeyID: Self.accessKey, secretAccessKey: Self.secretKey)) }
    var wrongCredentials: any AWSCredentialProvider { StaticCredentialProvider(AWSCredentials(accessKeyID: Self.accessKey, secretAccessKey: "wrong")) }

    /// Tells `service` how to behave.
    func set(_ service: String, _ mode: String = "ok", delayMilliseconds: Int = 0, text: String? = nil) async throws {
        var document: [String: Any] = ["service": service, "mode": mode, "delay_ms": delayMilliseconds]
        if let text { document["text"] = text }
        let body = try JSONSerialization.data(withJSONObject: document)
        let (status, _, _) = try await http("POST", "http://127.0.0.1:\(port)/_fake/behaviour", headers: [("Content-Type", "application/json")], body: body)
        guard status == 200 else { throw TestSetupError("fake behaviour: \(status)") }
    }

    /// What `service` saw: accepted and rejected calls, and the last request.
    func calls(_ service: String) async throws -> (accepted: Int, rejected: Int, last: [String: Any]?) {
        let (_, _, body) = try await http("GET", "http://127.0.0.1:\(port)/_fake/calls")
        let all = try JSONSerialization.jsonObject(with: body) as? [String: [String: Any]] ?? [:]
        let entry = all[service] ?? [:]
        return (entry["accepted"] as? Int ?? 0, entry["rejected"] as? Int ?? 0, entry["last"] as? [String: Any])
    }
}

private func collect<T>(_ stream: AsyncThrowingStream<T, any Error>) async throws -> [T] {
    var all: [T] = []
    for try await item in stream { all.append(item) }
    return all
}

private let context = ResponderContext(
    transcript: "what is my heart rate", language: "en", vitals: TurnVitals(heartRateBpm: 72.4, heartRateSnrDb: 8.1, respirationBpm: nil),
    history: [.init(patient: "hello", assistant: "Hello, how can I help?")],
    clinic: ClinicKnowledge(name: "North Clinic", entries: [.init(topic: "pharmacy", asks: ["pharmacy"], answer: "The pharmacy is on the ground floor.")]))

@Suite(.serialized) struct CloudProviderTests {
    let fakes: VoiceFakes
    init() throws { fakes = try VoiceFakes() }

    private func bedrock(credentials: (any AWSCredentialProvider)? = nil, guardrail: Bool = false, knowledgeBase: Bool = false, deadline: Duration = .seconds(5)) -> BedrockResponder {
        BedrockResponder(
            modelID: "anthropic.claude-3-haiku-20240307-v1:0", region: "us-east-1", credentials: credentials ?? fakes.credentials,
            guardrail: guardrail ? ("gr-123", "2") : nil, knowledgeBaseID: knowledgeBase ? "KB12345" : nil,
            runtimeEndpoint: fakes.endpoint, agentEndpoint: fakes.endpoint, deadline: deadline)
    }

    @Test func bedrockStreamsAReplyGroundedInTheVitalsTheConversationAndTheClinic() async throws {
        let pieces = try await collect(bedrock(guardrail: true, knowledgeBase: true).respond(to: context))
        #expect(pieces.count > 5, "streamed in pieces")
        #expect(pieces.joined() == "Your heart rate was about 72 beats per minute. A clinician will look at it with you.")
        let calls = try await fakes.calls("bedrock")
        #expect(calls.accepted == 1 && calls.rejected == 0)
        let request = try #require(calls.last?["request"] as? [String: Any])
        #expect(calls.last?["model"] as? String == "anthropic.claude-3-haiku-20240307-v1:0")
        let system = ((request["system"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        #expect(system.contains("Never diagnose"))
        #expect(system.contains("Heart rate: about 72 beats per minute; a clear reading (signal-to-noise 8.1 dB)"))
        #expect(system.contains("Breathing rate: not measured yet. Do not give a number."))
        #expect(system.contains("The pharmacy is on the ground floor."))
        #expect(system.contains("Flu vaccines are available on Tuesdays"), "the Knowledge Base's passage")
        let messages = request["messages"] as? [[String: Any]] ?? []
        #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user"])
        let guardrail = request["guardrailConfig"] as? [String: String]
        #expect(guardrail == ["guardrailIdentifier": "gr-123", "guardrailVersion": "2", "streamProcessingMode": "sync"])
        #expect(try await fakes.calls("retrieve").accepted == 1)
    }

    @Test func bedrockFailuresAreToldApart() async throws {
        await #expect(throws: VoiceProviderError.self) { _ = try await collect(bedrock(credentials: fakes.wrongCredentials).respond(to: context)) }
        #expect(try await fakes.calls("bedrock").rejected == 1, "a bad signature is refused as AWS would")
        func throttled(_ error: VoiceProviderError) -> Bool { if case .throttled = error { true } else { false } }
        func serverError(_ error: VoiceProviderError) -> Bool { if case .status(500, _) = error { true } else { false } }
        func tooManyTokens(_ error: VoiceProviderError) -> Bool { if case .throttled(let text) = error { text.contains("Too many tokens") } else { false } }
        func notATimeout(_ error: VoiceProviderError) -> Bool { if case .timedOut = error { false } else { true } }
        for (mode, check) in [("throttle", throttled), ("fail", serverError), ("exception", tooManyTokens), ("cut", notATimeout)] {
            try await fakes.set("bedrock", mode)
            do {
                _ = try await collect(bedrock().respond(to: context))
                Issue.record("\(mode): no error")
            } catch let error as VoiceProviderError {
                #expect(check(error), "\(mode): \(error)")
            } catch {
                // A connection cut mid-stream surfaces as the HTTP client's error.
                #expect(mode == "cut", "\(mode): \(error)")
            }
        }
        try await fakes.set("bedrock", "ok")
    }

    @Test func pollyAndCartesiaStreamSixteenKilohertzPCMSplitAnywhere() async throws {
        let polly = PollyTextToSpeech(region: "us-east-1", credentials: fakes.credentials, endpoint: fakes.endpoint)
        let chunks = try await collect(polly.speak("Your heart rate was about seventy two.", language: "en"))
        let samples = chunks.flatMap { $0 }
        #expect(chunks.count > 2 && samples.count == Int(16_000 * 0.06 * 38))
        #expect(samples.prefix(100).map { abs(Int($0)) }.max()! > 1_000, "samples reassembled across odd chunk boundaries")
        let last = try #require(try await fakes.calls("polly").last)
        #expect(last["VoiceId"] as? String == "Joanna" && last["SampleRate"] as? String == "16000")
        _ = try await collect(polly.speak("Hola.", language: "es"))
        #expect(try await fakes.calls("polly").last?["VoiceId"] as? String == "Lucia")

        let refused = PollyTextToSpeech(region: "us-east-1", credentials: fakes.wrongCredentials, endpoint: fakes.endpoint)
        await #expect(throws: VoiceProviderError.self) { _ = try await collect(refused.speak("Hello.", language: "en")) }
        try await fakes.set("polly", "throttle")
        do { _ = try await collect(polly.speak("Hello.", language: "en")); Issue.record("no error") } catch let error as VoiceProviderError {
            guard case .throttled = error else { Issue.record("\(error)"); return }
        }
        try await fakes.set("polly", "ok")

        let cartesia = CartesiaTextToSpeech(apiKey: VoiceFakes.apiKey, voiceID: "voice-1", endpoint: fakes.endpoint)
        let cartesiaSamples = try await collect(cartesia.speak("Hello there.", language: "en")).flatMap { $0 }
        #expect(cartesiaSamples.count == Int(16_000 * 0.06 * 12))
        let wrongKey = CartesiaTextToSpeech(apiKey: "nope", voiceID: "voice-1", endpoint: fakes.endpoint)
        do { _ = try await collect(wrongKey.speak("Hello.", language: "en")); Issue.record("no error") } catch let error as VoiceProviderError {
            guard case .status(401, _) = error else { Issue.record("\(error)"); return }
        }
    }

    @Test func deepgramAndTranscribeHearTheUtterance() async throws {
        let audio = UtteranceAudio(samples: (0..<24_000).map { Int16(4_000 * sin(Double($0) / 10)) })
        let deepgram = DeepgramSpeechToText(apiKey: VoiceFakes.apiKey, endpoint: fakes.endpoint)
        #expect(try await deepgram.transcribe(audio, language: "en") == "what is my heart rate")
        let deepgramCall = try #require(try await fakes.calls("deepgram").last)
        #expect(deepgramCall["bytes"] as? Int == 44 + 48_000)
        #expect((deepgramCall["query"] as? [String: String])?["language"] == "en")
        await #expect(throws: VoiceProviderError.self) {
            _ = try await DeepgramSpeechToText(apiKey: "nope", endpoint: fakes.endpoint).transcribe(audio, language: "en")
        }

        let transcribe = TranscribeSpeechToText(region: "us-east-1", credentials: fakes.credentials, endpoint: fakes.endpoint, logger: Logger(label: "test"))
        try await fakes.set("transcribe", text: "where is the pharmacy")
        #expect(try await transcribe.transcribe(audio, language: "es") == "where is the pharmacy", "the final result only, not the partial")
        let call = try #require(try await fakes.calls("transcribe").last)
        #expect(call["audio_bytes"] as? Int == 48_000, "every sample, framed in AudioEvents with valid CRCs")
        #expect(call["language"] as? String == "es-US")
        let refused = TranscribeSpeechToText(region: "us-east-1", credentials: fakes.wrongCredentials, endpoint: fakes.endpoint, logger: Logger(label: "test"))
        await #expect(throws: VoiceProviderError.self) { _ = try await refused.transcribe(audio, language: "en") }
        #expect(try await fakes.calls("transcribe").rejected == 1)
        try await fakes.set("transcribe", "throttle")
        do { _ = try await transcribe.transcribe(audio, language: "en"); Issue.record("no error") } catch let error as VoiceProviderError {
            guard case .throttled = error else { Issue.record("\(error)"); return }
        }
        try await fakes.set("transcribe", "ok")
    }

    @Test func aRelayOnCloudProvidersAnswersThroughThemAndFallsBackWhenTheyFail() async throws {
        let environment = try Backend.sqlite.freshDatabase()
        let relay = try RelayProcess(environment: environment, extra: [
            "HH_RELAY_SPEECH_TO_TEXT": "transcribe", "HH_RELAY_RESPONDER": "bedrock", "HH_RELAY_TEXT_TO_SPEECH": "polly",
            "HH_RELAY_TRANSCRIBE_ENDPOINT": fakes.endpoint.origin, "HH_RELAY_BEDROCK_ENDPOINT": fakes.endpoint.origin,
            "HH_RELAY_POLLY_ENDPOINT": fakes.endpoint.origin, "HH_RELAY_AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": VoiceFakes.accessKey, "AWS_SECRET_ACCESS_KEY": VoiceFakes.secretKey,
        ])
        defer { relay.stop() }
        let (_, token) = try relay.clinicWithDevice("North")
        func send(_ turn: TurnPart) async throws -> VoiceTurnAnswer {
            let (type, body) = multipart(turn: turn.json, audio: try spoken("What is my heart rate?"))
            let (status, _, data) = try await http(
                "POST", "\(relay.url)/v1/sessions/\(UUID().uuidString.lowercased())/turns",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", type)], body: body)
            #expect(status == 200, "\(String(decoding: data, as: UTF8.self))")
            return try WireJSON.decoder().decode(VoiceTurnAnswer.self, from: data)
        }
        try await fakes.set("transcribe", text: "what is my heart rate")
        let cloud = try await send(TurnPart(heartRate: 81))
        #expect(cloud.providers == .init(speechToText: "transcribe", responder: "bedrock", textToSpeech: "polly", fallbacks: []))
        #expect(cloud.reply.text == "Your heart rate was about 81 beats per minute. A clinician will look at it with you.")
        let (audioStatus, _, wav) = try await http("GET", relay.url + cloud.reply.audioURL, headers: [("Authorization", "Bearer \(token)")])
        #expect(audioStatus == 200 && wav.count > 44 + 16_000)

        // Every cloud provider failing: the patient still gets an answer, offline, and the answer says so.
        for service in ["transcribe", "bedrock", "polly"] { try await fakes.set(service, "fail") }
        let offline = try await send(TurnPart(heartRate: 64))
        #expect(offline.providers.speechToText == "pocketsphinx" && offline.providers.responder == "offline")
        #expect(offline.providers.fallbacks.count == 2, "\(offline.providers.fallbacks)")
        #expect(offline.reply.text.contains("64 beats per minute"), "\(offline.reply.text)")
        let (fallbackAudio, _, fallbackWAV) = try await http("GET", relay.url + offline.reply.audioURL, headers: [("Authorization", "Bearer \(token)")])
        #expect(fallbackAudio == 200 && fallbackWAV.count > 44 + 16_000, "eSpeak NG spoke what Polly could not")

        // A model that diagnoses is replaced before anyone hears it.
        for service in ["transcribe", "polly"] { try await fakes.set(service, "ok") }
        try await fakes.set("bedrock", "diagnose")
        let screened = try await send(TurnPart())
        #expect(screened.reply.screened && screened.reply.text == ReplyScreen.replacement)
        try await fakes.set("bedrock", "ok")
        let metrics = try await http("GET", relay.url + "/metrics").2
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(text.contains(#"hh_relay_voice_stage_failures_total{stage="responder",provider="bedrock",kind="status"}"#), "failures per stage and provider")
        #expect(text.contains(#"hh_relay_voice_stage_duration_count{stage="speech_to_text",provider="transcribe"}"#))
    }
}
