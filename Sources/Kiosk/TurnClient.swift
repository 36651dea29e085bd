import AsyncHTTPClient
import Foundation
import HHProtocol
import KioskControl
import MediaFiles
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// What became of a voice turn sent to the relay.
public enum TurnOutcome: Sendable, Hashable {
    /// The relay answered.
    case answered(VoiceTurnAnswer)
    /// No answer now; the turn is worth sending again later (unreachable, timeout, 408, 429,
    /// 5xx, or 401/404, which are the kiosk's enrolment, not the turn's fault).
    case retryLater(String)
    /// The relay refuses this turn for good (400, 403, 409, 413, 415, 422): sending it again
    /// would not change that.
    case refused(String)
}

/// The relay's voice-turn API as the kiosk uses it: send an utterance, stream the reply.
public protocol TurnSending: Sendable {
    /// Sends the turn `request` of session `sessionID` with its utterance (`audio`, a 16 kHz
    /// mono WAV file); never throws (a failure is an outcome).
    func send(_ request: VoiceTurnRequest, sessionID: String, audio: [UInt8]) async -> TurnOutcome
    /// The reply at `audioURL` (from the answer), 16 kHz mono samples as they arrive.
    func reply(_ audioURL: String) -> AsyncThrowingStream<[Int16], any Error>
}

extension TurnSending {
    /// Sends `turn` with the vitals measured so far.
    public func send(_ turn: ConversationMachine.Turn, vitals: VoiceTurnRequest.Vitals?) async -> TurnOutcome {
        await send(turn.request(vitals: vitals), sessionID: turn.sessionID, audio: turn.wav)
    }
}

extension ConversationMachine.Turn {
    /// The `turn` part the relay is sent for this turn.
    public func request(vitals: VoiceTurnRequest.Vitals?) -> VoiceTurnRequest {
        VoiceTurnRequest(id: id, startedAt: startedAt, vitals: vitals)
    }

    /// The utterance as a WAV file.
    public var wav: [UInt8] { WAVBytes.file(samples, sampleRate: ConversationMachine.sampleRate) }
}

/// The voice-turn client over HTTP(S): `POST /v1/sessions/{id}/turns` (multipart: the `turn`
/// JSON and the utterance as a 16 kHz mono WAV), then `GET` on the reply's URL, read as it
/// streams. Redirects are not followed (as for sessions).
public struct HTTPTurnClient: TurnSending {
    private let api: DeviceAPI

    /// A client for `enrollment` whose requests give up after `timeoutSeconds`.
    public init(enrollment: Enrollment, timeoutSeconds: Double, client: HTTPClient = HTTPRelayClient.deviceAPIClient, userAgent: String) {
        api = DeviceAPI(enrollment: enrollment, timeoutSeconds: timeoutSeconds, client: client, userAgent: userAgent)
    }

    public func send(_ request: VoiceTurnRequest, sessionID: String, audio: [UInt8]) async -> TurnOutcome {
        let boundary = "hh-turn-" + RandomID.uuid()
        var http = api.request("/v1/sessions/\(sessionID)/turns", method: .POST)
        http.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        do {
            http.body = .bytes(ByteBuffer(bytes: try Self.multipart(request, audio: audio, boundary: boundary)))
            let (status, _, body) = try await api.exchange(http, maximumBody: 1 << 20)
            if (200..<300).contains(status) {
                return .answered(try WireJSON.decoder().decode(VoiceTurnAnswer.self, from: body))
            }
            let message = (try? WireJSON.decoder().decode(ErrorResponse.self, from: body).error.message) ?? ""
            let reason = message.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(message)"
            switch DeliveryDecision.classify(status: status, retryAfter: nil, message: message) {
            case .delivered, .retry: return .retryLater(reason)
            case .reject: return .refused(reason)
            }
        } catch {
            return .retryLater(String(describing: error))
        }
    }

    public func reply(_ audioURL: String) -> AsyncThrowingStream<[Int16], any Error> {
        let (api, request) = (api, api.request(audioURL))
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await api.execute(request)
                    guard response.status == .ok else { throw RelayClientError("the reply answered HTTP \(response.status.code)") }
                    // The client's timeout ends with the head; a body that stalls for as long
                    // is given up, so a half-played reply does not hold the conversation.
                    let lastPiece = LastProgress()
                    let body = response.body
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            var decoder = StreamedWAVDecoder()
                            for try await piece in body {
                                lastPiece.mark()
                                let samples = try decoder.push(Array(piece.readableBytesView))
                                if !samples.isEmpty { continuation.yield(samples) }
                            }
                        }
                        group.addTask {
                            while true {
                                try await Task.sleep(for: .milliseconds(250))
                                if lastPiece.idle > api.deadline {
                                    throw RelayClientError("the reply stalled for \(api.deadline)")
                                }
                            }
                        }
                        defer { group.cancelAll() }
                        try await group.next()
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The request body: the `turn` part (JSON) and the `audio` part (WAV).
    static func multipart(_ turn: VoiceTurnRequest, audio: [UInt8], boundary: String) throws -> [UInt8] {
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"turn\"\r\nContent-Type: application/json\r\n\r\n".utf8)
        body += try WireJSON.encoder().encode(turn)
        body += Array("\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"utterance.wav\"\r\nContent-Type: audio/wav\r\n\r\n".utf8)
        body += audio
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        return body
    }
}

/// When a stream last made progress.
private final class LastProgress: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    /// Progress now.
    func mark() { instant.withLock { $0 = .now } }

    /// How long since the last progress.
    var idle: Duration { instant.withLock { $0 }.duration(to: .now) }
}

/// An answer from the relay that could not be used (late, or not in the expected form).
public struct RelayClientError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Reads a streamed reply: the relay's 44-byte header (16 kHz mono 16-bit, sizes unknown while
/// it streams) and then samples, whatever the pieces the network cuts them into.
public struct StreamedWAVDecoder: Sendable {
    private var pending: [UInt8] = []
    private var headerRead = false

    /// A decoder at the start of a stream.
    public init() {}

    /// The samples completed by `bytes`.
    public mutating func push(_ bytes: [UInt8]) throws -> [Int16] {
        pending += bytes
        if !headerRead {
            guard pending.count >= 44 else { return [] }
            let header = Array(pending[0..<44])
            let expected = WAVBytes.header(sampleRate: ConversationMachine.sampleRate, frameCount: nil)
            // The sizes (bytes 4–7 and 40–43) may be known or not; the format must be ours.
            guard header[0..<4] == expected[0..<4], header[8..<40] == expected[8..<40] else {
                throw RelayClientError("the reply is not 16 kHz mono 16-bit WAV")
            }
            pending.removeFirst(44)
            headerRead = true
        }
        let whole = pending.count / 2
        var samples = [Int16](repeating: 0, count: whole)
        for index in 0..<whole { samples[index] = Int16(bitPattern: UInt16(pending[2 * index]) | UInt16(pending[2 * index + 1]) << 8) }
        pending.removeFirst(whole * 2)
        return samples
    }
}
