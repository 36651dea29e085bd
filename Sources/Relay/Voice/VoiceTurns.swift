import Conversation
import Foundation
import HHProtocol
import Hummingbird
import Logging
import NIOCore

/// The voice-turn API: `POST /v1/sessions/{session_id}/turns` answers a spoken question once
/// (idempotent on the turn id, across instances), and `GET …/turns/{turn_id}/reply.wav`
/// streams the spoken answer while it is synthesised.
public struct VoiceTurnService: Sendable {
    let pipeline: VoicePipeline
    let store: any RelayStore
    let objects: any ObjectStore
    let knowledge: ClinicKnowledgeBook
    let hub: ReplyAudioHub
    /// Days the patient's and the reply's audio are kept in the object store (0: never stored).
    let audioRetentionDays: Int
    /// How long another instance's claim on a turn is trusted before this one takes it over.
    static let claimStaleAfter: Duration = .seconds(60)
    /// How long a retry of a turn another request is answering waits for that answer.
    static let waitForOtherAnswer: Duration = .seconds(20)
    /// Earlier turns given to the responder.
    static let historyLength = 10

    /// A service.
    public init(
        pipeline: VoicePipeline, store: any RelayStore, objects: any ObjectStore, knowledge: ClinicKnowledgeBook, hub: ReplyAudioHub = ReplyAudioHub(),
        audioRetentionDays: Int
    ) {
        self.pipeline = pipeline
        self.store = store
        self.objects = objects
        self.knowledge = knowledge
        self.hub = hub
        self.audioRetentionDays = audioRetentionDays
    }

    /// Where a turn's reply streams from.
    static func replyPath(sessionID: String, turnID: String) -> String { "/v1/sessions/\(sessionID)/turns/\(turnID)/reply.wav" }

    /// A session or turn id from the path: a UUID, lower-cased.
    static func pathID(_ text: String, _ what: String) throws(APIError) -> String {
        guard UUID(uuidString: text) != nil else { throw APIError(.badRequest, "invalid", "\(what) must be a UUID") }
        return text.lowercased()
    }

    /// Answers a turn.
    func answer(_ upload: TurnUpload.Parsed, readIn reading: Duration, sessionID: String, device: Device, logger: Logger) async throws -> Response {
        let start = ContinuousClock.now - reading
        let turnID = upload.request.id.lowercased()
        let claim = TurnClaim(id: turnID, sessionID: sessionID, clinicID: device.clinicID, deviceID: device.id, audioDigest: upload.audioDigest)
        switch try await claimed(claim, logger: logger) {
        case .answered(let turn): return RelayServer.json(.ok, turn.response)
        case .conflict: throw APIError(.conflict, "conflict", "turn \(turnID) was sent before with other audio")
        case .otherClinic: throw APIError(.forbidden, "forbidden", "session \(sessionID) or turn \(turnID) belongs to another clinic")
        case .inProgress: throw APIError(.serviceUnavailable, "in_progress", "turn \(turnID) is still being answered; retry", headers: [.retryAfter: "2"])
        case .claimed: break
        }

        let history: [StoredTurn]
        do { history = try await store.turns(sessionID: sessionID) } catch {
            try? await store.abandonTurn(id: turnID)
            throw APIError.unavailable(.database, error, logger: logger)
        }
        let reply = hub.register(turnID)
        let outcome = await pipeline.run(
            upload.audio, language: upload.language, vitals: upload.request.vitals ?? TurnVitals(),
            history: history.suffix(Self.historyLength).map { .init(patient: $0.transcript, assistant: $0.replyText) },
            clinic: knowledge.knowledge(of: device.clinicID), into: reply, logger: logger)

        let answer = VoiceTurnAnswer(
            id: turnID, sessionID: sessionID, language: upload.language, transcript: outcome.transcript,
            reply: .init(text: outcome.replyText, audioURL: Self.replyPath(sessionID: sessionID, turnID: turnID), screened: outcome.screened),
            escalation: .init(raised: outcome.escalation != nil, reason: outcome.escalation?.kind),
            providers: outcome.providers,
            timingsMs: .init(
                audio: reading.milliseconds, speechToText: outcome.timings.speechToText.milliseconds, responder: outcome.timings.responder.milliseconds,
                firstAudio: reply.firstSampleAt.map { ($0 - start).milliseconds }, total: (ContinuousClock.now - start).milliseconds))
        let body = String(decoding: try WireJSON.encoder().encode(answer), as: UTF8.self)
        let turn = StoredTurn(
            id: turnID, sessionID: sessionID, clinicID: device.clinicID, deviceID: device.id, startedAt: upload.request.startedAt,
            audioDigest: upload.audioDigest, transcript: outcome.transcript, replyText: outcome.replyText,
            escalationReason: outcome.escalation?.kind, response: body)
        do { try await store.completeTurn(turn) } catch {
            try? await store.abandonTurn(id: turnID)
            throw APIError.unavailable(.database, error, logger: logger)
        }
        if outcome.escalation != nil {
            logger.critical("emergency raised", metadata: ["session_id": "\(sessionID)", "turn_id": "\(turnID)", "reason": "\(outcome.escalation!.kind)"])
        }
        if audioRetentionDays > 0 { retainAudio(of: turn, question: upload.audioBytes, reply: reply, logger: logger) }
        return RelayServer.json(.ok, body)
    }

    /// Claims the turn, waiting a while if another request is answering it now.
    private func claimed(_ claim: TurnClaim, logger: Logger) async throws -> TurnClaimOutcome {
        let deadline = ContinuousClock.now + Self.waitForOtherAnswer
        while true {
            let outcome: TurnClaimOutcome
            do { outcome = try await store.claimTurn(claim, staleAfter: Self.claimStaleAfter) } catch {
                throw APIError.unavailable(.database, error, logger: logger)
            }
            guard outcome == .inProgress, ContinuousClock.now < deadline else { return outcome }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Keeps the patient's audio and, once it is complete, the reply's, until they expire.
    private func retainAudio(of turn: StoredTurn, question: [UInt8], reply: ReplyAudio, logger: Logger) {
        let days = audioRetentionDays
        Task { [store, objects] in
            let folder = "turns/\(turn.clinicID)/\(turn.sessionID)/\(turn.id)"
            do {
                let questionKey = try ObjectKey(folder + "/question.wav"), replyKey = try ObjectKey(folder + "/reply.wav")
                try await objects.put(ByteBuffer(bytes: question), at: questionKey, contentType: "audio/wav")
                await reply.waitUntilFinished()
                try await objects.put(WAVStream.file(reply.samples), at: replyKey, contentType: "audio/wav")
                try await store.retainTurnAudio(
                    id: turn.id, keys: [questionKey.description, replyKey.description], until: Date().addingTimeInterval(Double(days) * 86_400))
            } catch {
                logger.warning("turn audio not retained", metadata: ["turn_id": "\(turn.id)", "error": "\(error)"])
            }
        }
    }

    /// `GET …/reply.wav`: the reply as it is synthesised here, else as retained, else spoken again.
    func replyAudio(sessionID: String, turnID: String, device: Device, logger: Logger) async throws -> Response {
        let turn: StoredTurn?
        do { turn = try await store.turn(id: turnID) } catch { throw APIError.unavailable(.database, error, logger: logger) }
        guard let turn, turn.sessionID == sessionID else { throw APIError(.notFound, "not_found", "no answered turn \(turnID) in session \(sessionID)") }
        guard turn.clinicID == device.clinicID else { throw APIError(.forbidden, "forbidden", "turn \(turnID) belongs to another clinic") }
        let headers: HTTPFields = [.contentType: "audio/wav", .cacheControl: "no-store"]
        if let audio = hub.audio(turnID) {
            return Response(status: .ok, headers: headers, body: Self.streaming(audio))
        }
        if let key = turn.audioKeys.first(where: { $0.hasSuffix("/reply.wav") }), let objectKey = try? ObjectKey(key),
           let stored = try? await objects.get(objectKey) {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: stored))
        }
        // Not here and not kept: the same words, spoken again.
        let audio = ReplyAudio()
        let generation = audio.restart()
        let language = (try? WireJSON.decoder().decode(VoiceTurnAnswer.self, from: Data(turn.response.utf8)).language) ?? "en"
        let speaker = SentenceSpeaker(
            primary: pipeline.textToSpeech, fallback: pipeline.fallbacks.textToSpeech, language: language, deadline: pipeline.deadlines.textToSpeech,
            reply: audio, generation: generation, logger: logger)
        speaker.say(turn.replyText)
        speaker.finish()
        return Response(status: .ok, headers: headers, body: Self.streaming(audio))
    }

    /// A response body that sends the WAV header at once, then the samples as they are made.
    static func streaming(_ audio: ReplyAudio) -> ResponseBody {
        ResponseBody { writer in
            let complete = audio.isFinished
            try await writer.write(WAVStream.header(sampleCount: complete ? audio.samples.count : nil))
            var sent = 0
            while let samples = await audio.samples(after: sent) {
                try await writer.write(WAVStream.payload(samples))
                sent += samples.count
            }
            try await writer.finish(nil)
        }
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int { Int(components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000) }
}
