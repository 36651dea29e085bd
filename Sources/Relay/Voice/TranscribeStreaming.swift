import AWSEventStream
import AWSSigning
import Foundation
import Logging
import NIOCore
import NIOSSL
import WSClient

/// Amazon Transcribe streaming over its presigned WebSocket: the URL signed with SigV4 in the
/// query string, the audio sent as AWS event-stream `AudioEvent` messages of 100 ms of 16 kHz
/// PCM (an empty one ends it), the final (not partial) results of `TranscriptEvent`s joined.
public struct TranscribeSpeechToText: SpeechToText {
    public let name = "transcribe"
    let region: String
    let credentials: any AWSCredentialProvider
    let endpoint: ProviderEndpoint
    let logger: Logger

    /// A recogniser in `region` (its endpoint overridable for tests: `http` means `ws`).
    public init(region: String, credentials: any AWSCredentialProvider, endpoint: ProviderEndpoint? = nil, logger: Logger) {
        self.region = region
        self.credentials = credentials
        self.endpoint = endpoint ?? {
            var endpoint = ProviderEndpoint(host: "transcribestreaming.\(region).amazonaws.com")
            endpoint.port = 8443
            return endpoint
        }()
        self.logger = logger
    }

    /// Transcribe's language code for a BCP 47 tag (`en` → `en-US`).
    static func languageCode(_ language: String) -> String {
        if language.contains("-") { return language }
        return ["en": "en-US", "es": "es-US", "fr": "fr-FR", "de": "de-DE"][language.lowercased()] ?? "en-US"
    }

    /// The presigned `wss://` URL of a stream.
    func presignedURL(language: String, date: Date) async throws -> String {
        let credentials: AWSCredentials
        do { credentials = try await self.credentials.credentials() } catch { throw VoiceProviderError.unreachable("no AWS credentials: \(error)") }
        let path = "/stream-transcription-websocket"
        let query: [SigV4Request.QueryItem] = [
            .init("language-code", Self.languageCode(language)), .init("media-encoding", "pcm"), .init("sample-rate", String(UtteranceAudio.sampleRate)),
        ]
        let request = SigV4Request(method: "GET", path: path, query: query, headers: [.init("host", endpoint.hostHeader)])
        let signature = SigV4Signer(region: region, service: "transcribe").presign(request, credentials: credentials, date: date, expires: 300)
        let queryText = (query + signature.query)
            .map { SigV4Encoding.encode($0.name, keepingSlashes: false) + "=" + SigV4Encoding.encode($0.value, keepingSlashes: false) }
            .joined(separator: "&")
        let scheme = endpoint.scheme == "https" ? "wss" : "ws"
        return "\(scheme)://\(endpoint.hostHeader)\(path)?\(queryText)"
    }

    /// The `AudioEvent` message carrying `chunk` (empty: the end of the audio).
    static func audioEvent(_ chunk: ArraySlice<Int16>) -> [UInt8] {
        var payload: [UInt8] = []
        payload.reserveCapacity(chunk.count * 2)
        for sample in chunk { payload.append(UInt8(truncatingIfNeeded: sample)); payload.append(UInt8(truncatingIfNeeded: sample >> 8)) }
        return EventStreamMessage(headers: [
            .init(":content-type", .string("application/octet-stream")), .init(":event-type", .string("AudioEvent")),
            .init(":message-type", .string("event")),
        ], payload: payload).encoded()
    }

    /// The final transcripts in a `TranscriptEvent`; throws for an exception message.
    static func finalTranscripts(in message: EventStreamMessage) throws -> [String] {
        let payload = (try? JSONSerialization.jsonObject(with: Data(message.payload))) as? [String: Any] ?? [:]
        switch message.string(":message-type") {
        case "event":
            guard message.string(":event-type") == "TranscriptEvent" else { return [] }
            let results = (payload["Transcript"] as? [String: Any])?["Results"] as? [[String: Any]] ?? []
            return results.filter { ($0["IsPartial"] as? Bool) == false }.compactMap {
                ($0["Alternatives"] as? [[String: Any]])?.first?["Transcript"] as? String
            }
        case "exception":
            let type = message.string(":exception-type") ?? "exception"
            let text = "\(type): \(payload["Message"] as? String ?? payload["message"] as? String ?? "no details")"
            throw type.contains("Throttling") || type.contains("LimitExceeded") ? VoiceProviderError.throttled(text) : VoiceProviderError.status(500, text)
        default:
            throw VoiceProviderError.malformed("an event-stream message of type \(message.string(":message-type") ?? "none")")
        }
    }

    public func transcribe(_ audio: UtteranceAudio, language: String) async throws -> String {
        let url = try await presignedURL(language: language, date: Date())
        let collected = TranscriptCollector()
        let chunk = UtteranceAudio.sampleRate / 10
        let samples = audio.samples
        do {
            try await WebSocketClient.connect(
                url: url, configuration: .init(maxFrameSize: 1 << 20), tlsConfiguration: endpoint.scheme == "https" ? .makeClientConfiguration() : nil,
                logger: logger
            ) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for start in stride(from: 0, to: samples.count, by: chunk) {
                            try await outbound.write(.binary(ByteBuffer(bytes: Self.audioEvent(samples[start..<min(samples.count, start + chunk)]))))
                        }
                        try await outbound.write(.binary(ByteBuffer(bytes: Self.audioEvent([]))))
                    }
                    var decoder = EventStreamDecoder()
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .binary(let buffer) = message else { continue }
                        decoder.append(buffer.readableBytesView)
                        while let event = try decoder.next() { collected.add(try Self.finalTranscripts(in: event)) }
                    }
                    try await group.waitForAll()
                }
            }
        } catch let error as VoiceProviderError {
            throw error
        } catch {
            throw VoiceProviderError.unreachable("Transcribe streaming: \(error)")
        }
        return collected.text
    }
}

/// The final transcripts of a stream, in order.
private final class TranscriptCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String] = []

    func add(_ more: [String]) { lock.withLock { parts += more } }
    var text: String { lock.withLock { parts.joined(separator: " ") } }
}
