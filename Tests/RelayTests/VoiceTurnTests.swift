import AsyncHTTPClient
import Conversation
import Foundation
import HHProtocol
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Relay
import TestSupport
import Testing

/// `POST /v1/sessions/{id}/turns` and its reply audio, in front of real and fake providers.
@Suite(.serialized) struct VoiceTurnTests {
    private func answer(_ data: Data) throws -> VoiceTurnAnswer {
        try WireJSON.decoder().decode(VoiceTurnAnswer.self, from: data)
    }

    @Test func aSpokenQuestionIsAnsweredOfflineWithTheMeasuredRateAndSpokenBack() async throws {
        let relay = try await InProcessRelay(pipeline: VoicePipeline(
            speechToText: offlineVoice.speechToText, responder: offlineVoice.responder, textToSpeech: offlineVoice.textToSpeech))
        defer { Task { await relay.stop() } }
        let session = UUID().uuidString.lowercased()
        let (status, body) = try await relay.send(session: session, turn: TurnPart(heartRate: 72.4, snr: 8.1), audio: try spoken("What is my heart rate?"))
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
        let reply = try answer(body)
        #expect(reply.transcript.contains("heart rate") || reply.transcript.contains("pulse"), "\(reply.transcript)")
        #expect(reply.reply.text.contains("72 beats per minute"), "\(reply.reply.text)")
        #expect(reply.reply.text.contains("clear reading"))
        #expect(!reply.escalation.raised && reply.escalation.reason == nil)
        #expect(reply.providers == .init(speechToText: "pocketsphinx", responder: "offline", textToSpeech: "espeak-ng", fallbacks: []))
        #expect(String(decoding: body, as: UTF8.self).contains(#""reason":null"#), "the contract always has escalation.reason")

        let (audioStatus, headers, wav) = try await http("GET", relay.url + reply.reply.audioURL, headers: [("Authorization", "Bearer \(relay.token)")])
        #expect(audioStatus == 200)
        #expect(headers.first(name: "Content-Type") == "audio/wav")
        // 16 kHz mono 16-bit, and seconds of speech.
        #expect(wav.count > 44 + 2 * 16_000)
        #expect(wav[22] == 1 && wav[24..<28].elementsEqual([0x80, 0x3E, 0, 0]) && wav[34] == 16)
        let samples = wav[44...].withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        #expect(samples.map { abs(Int($0)) }.max()! > 3_000, "the reply is audible")

        // Without a reading, no number is quoted.
        let (_, second) = try await relay.send(session: session, turn: TurnPart(heartRate: nil, snr: nil), audio: try spoken("What is my pulse?"))
        let unmeasured = try answer(second)
        #expect(unmeasured.reply.text.contains("don't have a heart-rate reading"), "\(unmeasured.reply.text)")
        let quotesANumber = unmeasured.reply.text.contains { $0.isNumber }
        #expect(!quotesANumber)
        // Both turns are stored with the session, in order.
        let turns = try await relay.store.turns(sessionID: session)
        #expect(turns.map(\.transcript) == [reply.transcript, unmeasured.transcript])
    }

    @Test func aRetryGetsTheStoredAnswerWithoutCallingAnyProviderAgain() async throws {
        let recognizer = ScriptedSpeechToText(["what is my heart rate", "what is my pulse"])
        let responder = ScriptedResponder(["Your heart rate was about 72."])
        let speech = RecordingSpeech()
        let relay = try await InProcessRelay(pipeline: VoicePipeline(speechToText: recognizer, responder: responder, textToSpeech: speech))
        defer { Task { await relay.stop() } }
        let session = UUID().uuidString.lowercased()
        let turn = TurnPart()
        let (first, firstBody) = try await relay.send(session: session, turn: turn, audio: toneWAV)
        let (again, againBody) = try await relay.send(session: session, turn: turn, audio: toneWAV)
        #expect(first == 200 && again == 200)
        #expect(firstBody == againBody, "a retry gets exactly the stored answer")
        #expect(recognizer.calls == 1 && responder.calls == 1 && speech.sentences.count == 1)

        // The same id with other audio: 409, and still nothing called.
        var other = toneWAV
        other[100] ^= 0x55
        let (conflict, conflictBody) = try await relay.send(session: session, turn: turn, audio: other)
        #expect(conflict == 409 && errorCode(conflictBody) == "conflict")
        // Another clinic's device: neither this session nor this turn id is theirs.
        let (_, southToken) = try await relay.addClinic("South")
        let (forbidden, forbiddenBody) = try await relay.send(session: session, turn: TurnPart(), audio: toneWAV, token: southToken)
        #expect(forbidden == 403 && errorCode(forbiddenBody) == "forbidden")
        let (stolen, _) = try await relay.send(session: UUID().uuidString.lowercased(), turn: turn, audio: toneWAV, token: southToken)
        #expect(stolen == 403)
        let (audioStatus, _, _) = try await http(
            "GET", relay.url + VoiceTurnServicePaths.reply(session: session, turn: turn.id), headers: [("Authorization", "Bearer \(southToken)")])
        #expect(audioStatus == 403)
        #expect(recognizer.calls == 1 && responder.calls == 1)
        // A session document from another clinic under an id this clinic's turns use is refused.
        let south = try await relay.store.addClinic(name: "South 2")
        _ = try await relay.store.addDevice(id: "south-device", clinicID: south.id, name: "x", secretHash: "h")
        #expect(try await relay.store.store(storedSession(session, clinic: south.id, device: "south-device")) == .otherClinic)
    }

    @Test func unusableAudioIsRefusedClearlyAndNothingIsStored() async throws {
        let recognizer = ScriptedSpeechToText()
        let relay = try await InProcessRelay(pipeline: VoicePipeline(speechToText: recognizer, responder: ScriptedResponder(["Hello."]), textToSpeech: RecordingSpeech()))
        defer { Task { await relay.stop() } }
        let session = UUID().uuidString.lowercased()
        let speech = try spoken("What is my heart rate?")
        let cases: [(String, Data?, Int, String)] = [
            ("empty", Data(), 400, "empty_audio"),
            ("header only", wavFile([]), 400, "empty_audio"),
            ("silent", wavFile([Int16](repeating: 0, count: 32_000)), 422, "silent_audio"),
            ("hiss below -50 dBFS", wavFile((0..<32_000).map { Int16($0 % 7 == 0 ? 40 : -40) }), 422, "silent_audio"),
            ("too long", wavFile([Int16](repeating: 3_000, count: 16_000 * 31)), 413, "audio_too_long"),
            ("not WAV", Data("ID3\u{3}this is an mp3, honest".utf8), 400, "not_wav"),
            ("truncated", speech.prefix(speech.count / 2), 400, "truncated_audio"),
            ("truncated header", speech.prefix(30), 400, "truncated_audio"),
            ("missing", nil, 400, "malformed"),
        ]
        for (name, audio, status, code) in cases {
            let turn = TurnPart()
            let (got, body) = try await relay.send(session: session, turn: turn, audio: audio)
            #expect(got == status && errorCode(body) == code, "\(name): \(got) \(String(decoding: body, as: UTF8.self))")
            #expect(try await relay.store.turn(id: turn.id) == nil, "\(name): nothing stored")
        }
        // Broken turn parts and bodies.
        func raw(_ contentType: String, _ body: Data) async throws -> (Int, String?) {
            let (status, _, data) = try await http(
                "POST", "\(relay.url)/v1/sessions/\(session)/turns",
                headers: [("Authorization", "Bearer \(relay.token)"), ("Content-Type", contentType)], body: body)
            return (status, errorCode(data))
        }
        let good = multipart(turn: TurnPart().json, audio: toneWAV, boundary: "b0undary")
        #expect(try await raw("application/json", good.1) == (415, "unsupported_media_type"))
        #expect(try await raw("multipart/form-data", good.1) == (415, "unsupported_media_type"))
        #expect(try await raw(good.0, good.1.prefix(good.1.count - 20)) == (400, "malformed"), "cut before the closing boundary")
        for turn in [#"{"id":"not-a-uuid","started_at":"2026-12-02T10:00:00Z"}"#, #"{"id":"\#(UUID())","started_at":"2026-12-02T10:00:00Z","mood":"good"}"#,
                     #"{"id":"\#(UUID())","id":"\#(UUID())","started_at":"2026-12-02T10:00:00Z"}"#, #"{"id":"\#(UUID())"}"#,
                     #"{"id":"\#(UUID())","started_at":"2026-12-02T10:00:00Z","vitals":{"heart_rate_bpm":900}}"#,
                     #"{"id":"\#(UUID())","started_at":"2026-12-02T10:00:00Z","language":"english please"}"#] {
            let (type, body) = multipart(turn: Data(turn.utf8), audio: toneWAV, boundary: "bnd")
            let (status, code) = try await raw(type, body)
            #expect(status == 400 && (code == "malformed" || code == "invalid"), "\(turn): \(status) \(code ?? "")")
        }
        let twice = Data("--bnd\r\nContent-Disposition: form-data; name=\"audio\"\r\n\r\n".utf8) + toneWAV
            + Data("\r\n--bnd\r\nContent-Disposition: form-data; name=\"audio\"\r\n\r\n".utf8) + toneWAV + Data("\r\n--bnd--\r\n".utf8)
        #expect(try await raw("multipart/form-data; boundary=bnd", twice) == (400, "malformed"))
        #expect(try await raw(good.0, Data()) == (400, "malformed"))
        let (badSession, _) = try await relay.send(session: "not-a-session", turn: TurnPart(), audio: toneWAV)
        #expect(badSession == 400)
        let (unauthorized, _) = try await relay.send(session: session, turn: TurnPart(), audio: toneWAV, token: "hh1.nobody.secret")
        #expect(unauthorized == 401)
        #expect(recognizer.calls == 0, "no provider was called for any of these")
        #expect(try await relay.store.turns(sessionID: session).isEmpty)
    }

    @Test func audioOfAnyRateAndChannelCountIsHeard() async throws {
        let recognizer = ScriptedSpeechToText(["one", "two", "three"])
        let relay = try await InProcessRelay(pipeline: VoicePipeline(speechToText: recognizer, responder: ScriptedResponder(["Fine."]), textToSpeech: RecordingSpeech()))
        defer { Task { await relay.stop() } }
        for (rate, channels) in [(8_000, 1), (44_100, 2), (48_000, 6)] {
            let frames = rate
            let samples = (0..<(frames * channels)).map { Int16(6_000 * sin(2 * Double.pi * 300 * Double($0 / channels) / Double(rate))) }
            let (status, body) = try await relay.send(session: UUID().uuidString.lowercased(), turn: TurnPart(), audio: wavFile(samples, rate: rate, channels: channels))
            #expect(status == 200, "\(rate) Hz × \(channels): \(String(decoding: body, as: UTF8.self))")
        }
        #expect(recognizer.calls == 3)
    }

    @Test func theReplyStreamsWhileItIsStillBeingSynthesised() async throws {
        // Three sentences, each spoken in three chunks 300 ms apart: about 2.4 s of synthesis.
        let speech = RecordingSpeech(chunks: 3, pause: .milliseconds(300))
        let relay = try await InProcessRelay(pipeline: VoicePipeline(
            speechToText: ScriptedSpeechToText(["how does this work"]),
            responder: ScriptedResponder(["The camera sees your skin. ", "Nothing is recorded. ", "Only numbers are kept."]), textToSpeech: speech))
        defer { Task { await relay.stop() } }
        let session = UUID().uuidString.lowercased()
        let (status, body) = try await relay.send(session: session, turn: TurnPart(), audio: toneWAV)
        #expect(status == 200)
        let reply = try answer(body)
        #expect(reply.reply.text == "The camera sees your skin. Nothing is recorded. Only numbers are kept.")
        let stream = try await firstBytes(relay.url + reply.reply.audioURL, token: relay.token, speech: speech)
        #expect(stream.bytes >= 44 + 3_200, "the header and the first chunk")
        #expect(stream.finishedSentencesWhenFirstBytesArrived < 3, "the first bytes left before the reply was all synthesised")
        #expect(speech.finished == 3)
        let expectedBytes = 44 + 9 * 1_600 * 2
        #expect(stream.total == expectedBytes, "every chunk of every sentence, once")
    }

    @Test func cloudStagesThatFailFallBackToOfflineAndSaySo() async throws {
        let offlineSpeech = RecordingSpeech(name: "offline-tts")
        let pipeline = VoicePipeline(
            speechToText: ScriptedSpeechToText(name: "cloud-stt", failing: VoiceProviderError.status(500, "internal")),
            responder: ScriptedResponder(name: "cloud-model", ["Never finished"], delay: .seconds(5)),
            textToSpeech: RecordingSpeech(name: "cloud-tts", failing: VoiceProviderError.throttled("slow down")),
            fallbacks: .init(
                speechToText: ScriptedSpeechToText(name: "offline-stt", ["what is my heart rate"]), responder: OfflineReplyResponder(),
                textToSpeech: offlineSpeech),
            deadlines: { var deadlines = VoicePipeline.Deadlines(); deadlines.responder = .milliseconds(300); return deadlines }())
        let relay = try await InProcessRelay(pipeline: pipeline)
        defer { Task { await relay.stop() } }
        let (status, body) = try await relay.send(session: UUID().uuidString.lowercased(), turn: TurnPart(), audio: toneWAV)
        #expect(status == 200)
        let reply = try answer(body)
        #expect(reply.transcript == "what is my heart rate")
        #expect(reply.reply.text.contains("72 beats per minute"))
        #expect(reply.providers.speechToText == "offline-stt" && reply.providers.responder == "offline")
        #expect(reply.providers.fallbacks.count == 2, "\(reply.providers.fallbacks)")
        #expect(reply.providers.fallbacks[0].contains("cloud-stt failed (HTTP 500"))
        #expect(reply.providers.fallbacks[1].contains("cloud-model failed (no answer within"))
        let (audioStatus, _, wav) = try await http("GET", relay.url + reply.reply.audioURL, headers: [("Authorization", "Bearer \(relay.token)")])
        #expect(audioStatus == 200 && wav.count > 44, "the offline synthesiser spoke what the cloud one could not")
        #expect(offlineSpeech.sentences.count == 2)
    }

    @Test func aModelThatDiagnosesOrPrescribesIsNeverHeard() async throws {
        let speech = RecordingSpeech()
        let model = ScriptedResponder(["Your heart rate is 72, which is fine. ", "But it sounds like you have atrial fibrillation, ", "so take 75 mg of aspirin daily."])
        let relay = try await InProcessRelay(pipeline: VoicePipeline(
            speechToText: ScriptedSpeechToText(["is my heart rate normal"]), responder: model, textToSpeech: speech))
        defer { Task { await relay.stop() } }
        let (status, body) = try await relay.send(session: UUID().uuidString.lowercased(), turn: TurnPart(), audio: toneWAV)
        #expect(status == 200)
        let reply = try answer(body)
        #expect(reply.reply.screened)
        #expect(reply.reply.text == ReplyScreen.replacement)
        let (_, _, wav) = try await http("GET", relay.url + reply.reply.audioURL, headers: [("Authorization", "Bearer \(relay.token)")])
        // What is streamed is the replacement alone (three chunks of one sentence).
        let expectedBytes = 44 + 3 * 1_600 * 2
        #expect(wav.count == expectedBytes)
        #expect(!speech.sentences.contains { $0.contains("fibrillation") || $0.contains("aspirin") })
    }

    @Test(arguments: [false, true])
    func everyEmergencyIsEscalatedBeforeAnyModel(withModel: Bool) async throws {
        let model = ScriptedResponder(["Let me look into that for you."])
        let recognizer = ScriptedSpeechToText(ConversationCorpus.emergencies)
        let pipeline = VoicePipeline(speechToText: recognizer, responder: withModel ? model : OfflineReplyResponder(), textToSpeech: RecordingSpeech())
        var missed: [String] = []
        for sentence in ConversationCorpus.emergencies {
            let outcome = await pipeline.run(
                UtteranceAudio(samples: [1]), language: "en", vitals: TurnVitals(), history: [], clinic: .init(name: "", entries: []),
                into: ReplyAudio(), logger: Logger(label: "test"))
            if outcome.escalation == nil || outcome.replyText != EmergencyReplies.text(for: "en") { missed.append(sentence) }
        }
        #expect(ConversationCorpus.emergencies.count >= 40)
        #expect(missed.isEmpty, "not escalated: \(missed)")
        #expect(model.calls == 0, "no model saw an emergency")
        // Ordinary questions are not escalated through the same path.
        let ordinary = VoicePipeline(speechToText: ScriptedSpeechToText(ConversationCorpus.ordinaryQuestions), responder: model, textToSpeech: RecordingSpeech())
        var escalated = 0
        for _ in ConversationCorpus.ordinaryQuestions {
            let outcome = await ordinary.run(
                UtteranceAudio(samples: [1]), language: "en", vitals: TurnVitals(), history: [], clinic: .init(name: "", entries: []),
                into: ReplyAudio(), logger: Logger(label: "test"))
            if outcome.escalation != nil { escalated += 1 }
        }
        #expect(escalated == 0)
    }

    @Test func anEscalatedTurnFlagsItsSessionAndAnswersAtOnce() async throws {
        let model = ScriptedResponder(["No."])
        let relay = try await InProcessRelay(pipeline: VoicePipeline(
            speechToText: ScriptedSpeechToText(["i have chest pain"]), responder: model, textToSpeech: RecordingSpeech()))
        defer { Task { await relay.stop() } }
        let session = UUID().uuidString.lowercased()
        let (status, body) = try await relay.send(session: session, turn: TurnPart(language: "es"), audio: toneWAV)
        #expect(status == 200)
        let reply = try answer(body)
        #expect(reply.escalation == .init(raised: true, reason: "chest_pain"))
        #expect(reply.reply.text == EmergencyReplies.text(for: "es"))
        #expect(reply.providers.responder == "emergency" && model.calls == 0)
        #expect(try await relay.store.turns(sessionID: session).first?.escalationReason == "chest_pain")
    }

    @Test func turnAudioIsKeptOnlyWhenRetentionIsOnAndSweptWhenItExpires() async throws {
        let relay = try await InProcessRelay(
            pipeline: VoicePipeline(speechToText: ScriptedSpeechToText(["hello"]), responder: ScriptedResponder(["Hi."]), textToSpeech: RecordingSpeech()),
            audioRetentionDays: 7)
        defer { Task { await relay.stop() } }
        let session = UUID().uuidString.lowercased()
        let turn = TurnPart()
        _ = try await relay.send(session: session, turn: turn, audio: toneWAV)
        var stored: StoredTurn?
        for _ in 0..<50 {
            stored = try await relay.store.turn(id: turn.id)
            if stored?.audioKeys.count == 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let keys = try #require(stored?.audioKeys)
        #expect(keys.count == 2)
        let question = try #require(try await relay.objects.get(ObjectKey(keys[0])))
        #expect(Data(buffer: question) == toneWAV, "the patient's audio as sent")
        #expect(try await relay.objects.get(ObjectKey(keys[1])) != nil)
        let expires = try #require(stored?.audioExpiresAt)
        #expect(abs(expires.timeIntervalSinceNow - 7 * 86_400) < 120)

        let sweeper = ObjectSweeper(store: relay.store, objects: relay.objects, logger: Logger(label: "test"))
        #expect(try await sweeper.sweep(now: Date()).expiredTurnAudio == 0, "not yet")
        #expect(try await sweeper.sweep(now: Date().addingTimeInterval(8 * 86_400)).expiredTurnAudio == 1)
        for key in keys { #expect(try await relay.objects.get(ObjectKey(key)) == nil) }
        #expect(try await relay.store.turn(id: turn.id)?.audioKeys == [])
        // The reply is still there to hear: spoken again from its stored text.
        let fresh = try await InProcessRelay(
            pipeline: VoicePipeline(speechToText: ScriptedSpeechToText(), responder: ScriptedResponder([]), textToSpeech: RecordingSpeech()),
            store: relay.store)
        defer { Task { await fresh.stop() } }
        let (status, _, wav) = try await http("GET", fresh.url + VoiceTurnServicePaths.reply(session: session, turn: turn.id), headers: [("Authorization", "Bearer \(relay.token)")])
        let expectedBytes = 44 + 3 * 1_600 * 2
        #expect(status == 200 && wav.count == expectedBytes)

        // Retention off: nothing goes to the object store.
        let off = try await InProcessRelay(
            pipeline: VoicePipeline(speechToText: ScriptedSpeechToText(["hello"]), responder: ScriptedResponder(["Hi."]), textToSpeech: RecordingSpeech()))
        defer { Task { await off.stop() } }
        _ = try await off.send(session: session, turn: TurnPart(), audio: toneWAV)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await off.objects.list(prefix: "turns/").isEmpty)
    }
}

enum VoiceTurnServicePaths {
    static func reply(session: String, turn: String) -> String { "/v1/sessions/\(session)/turns/\(turn)/reply.wav" }
}

/// Reads a streamed reply: how many bytes the first piece held, how many sentences `speech`
/// had finished when it arrived, and how many bytes came in all.
private func firstBytes(_ url: String, token: String, speech: RecordingSpeech) async throws -> (bytes: Int, finishedSentencesWhenFirstBytesArrived: Int, total: Int) {
    var request = HTTPClientRequest(url: url)
    request.headers.add(name: "Authorization", value: "Bearer \(token)")
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    var first: (Int, Int)?
    var total = 0
    for try await piece in response.body {
        total += piece.readableBytes
        if first == nil, total >= 44 + 3_200 { first = (total, speech.finished) }
    }
    return (first?.0 ?? 0, first?.1 ?? 99, total)
}
