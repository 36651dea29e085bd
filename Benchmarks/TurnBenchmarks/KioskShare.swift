// The kiosk's share of a turn's latency: hhd's conversation (the real ConversationService with
// its store, HTTPTurnClient and ReplyPlayer) against the relay in this process, timed on both
// sides of the wire on one clock.
//
//   utterance end → request at the relay: from handing the conversation an ended utterance to
//     the relay's router receiving the turn's request (the utterance committed to the store,
//     the turn built and stored as sent, the multipart body made and the request sent).
//     Reference: the same client posting the same body, from the call to the router.
//   first reply audio byte → first sample heard: from the relay writing the reply's first audio
//     bytes to the moment the speaker will play the first reply sample (the samples written to a
//     device model, plus what the device held ahead of them). Reference: the same client
//     fetching the same reply, from the relay's write to the first bytes received.
import AsyncHTTPClient
import BenchmarkSupport
import Devices
import EdgeStore
import Foundation
import HHProtocol
import Hummingbird
import Kiosk
import KioskControl
import Logging
import MediaFiles
import Relay
import Synchronization

/// Instants seen by the relay: turn requests arriving, reply audio leaving.
final class WireProbe: Sendable {
    private let state = Mutex<(requests: [ContinuousClock.Instant], replyAudio: [ContinuousClock.Instant])>(([], []))
    func requestArrived() { state.withLock { $0.requests.append(.now) } }
    func replyAudioLeft() { state.withLock { $0.replyAudio.append(.now) } }
    var lastRequest: ContinuousClock.Instant? { state.withLock { $0.requests.last } }
    var lastReplyAudio: ContinuousClock.Instant? { state.withLock { $0.replyAudio.last } }
}

/// Bytes of one response written so far.
final class SentBytes: Sendable {
    private let total = Mutex(0)
    /// Adds `count`, returning the total before.
    func add(_ count: Int) -> Int {
        total.withLock { total in
            defer { total += count }
            return total
        }
    }
}

/// The relay's router, with the probe's instants taken around it.
struct ProbedResponder: HTTPResponder {
    let inner: RouterResponder<RelayRequestContext>
    let probe: WireProbe

    func respond(to request: Request, context: RelayRequestContext) async throws -> Response {
        let path = request.uri.path
        if request.method == .post && path.hasSuffix("/turns") { probe.requestArrived() }
        var response = try await inner.respond(to: request, context: context)
        if path.hasSuffix("/reply.wav") {
            let probe = probe
            let sent = SentBytes()
            response.body = response.body.map { buffer in
                // The first bytes past the 44-byte WAV header are the first audio.
                let before = sent.add(buffer.readableBytes)
                if before <= 44 && before + buffer.readableBytes > 44 { probe.replyAudioLeft() }
                return buffer
            }
        }
        return response
    }
}

/// A model of an ALSA playback device: a 200 ms buffer played out at 16 kHz from when it is
/// opened, writes that wait for room, a rewind that takes back all but one 20 ms period. It notes
/// when the first non-silent sample written will be heard.
final class DeviceModelSink: AudioSink, @unchecked Sendable {
    let name = "device model"
    let underruns = 0
    private let capacity = 3_200, safety = 320, rate = 16_000.0
    private let lock = NSLock()
    private var openedAt = ContinuousClock.now
    private var written = 0
    private var firstHeard: ContinuousClock.Instant?

    private func played(at instant: ContinuousClock.Instant) -> Int { Int((openedAt.duration(to: instant) / .seconds(1)) * rate) }

    var pendingFrames: Int {
        lock.lock()
        defer { lock.unlock() }
        return max(0, written - played(at: .now))
    }

    /// When the first sound written since the last call will be heard.
    func takeFirstHeard() -> ContinuousClock.Instant? {
        lock.lock()
        defer { lock.unlock() }
        defer { firstHeard = nil }
        return firstHeard
    }

    func open(sampleRate: Int) throws(DeviceError) {
        lock.lock()
        openedAt = .now
        written = 0
        lock.unlock()
    }

    func write(_ samples: [Int16]) throws(DeviceError) {
        while pendingFrames + samples.count > capacity { Thread.sleep(forTimeInterval: 0.002) }
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        // Written after an underrun, the samples play at once.
        let start = max(written, played(at: now))
        if firstHeard == nil, let index = samples.firstIndex(where: { $0 != 0 }) {
            firstHeard = now + .microseconds(Int64(Double(start - played(at: now) + index) / rate * 1e6))
        }
        written = start + samples.count
    }

    func rewind(maxFrames: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        let frames = min(maxFrames, max(0, written - played(at: .now) - safety))
        written -= frames
        return frames
    }

    func drain() { while pendingFrames > 0 { Thread.sleep(forTimeInterval: 0.002) } }
    func discard() {}
    func close() {}
}

/// One conversation on the relay at `url`, `continuous` as with the echo canceller.
struct KioskUnderTest {
    let inbox: AsyncStream<ConversationInput>.Continuation
    let shelf: UtteranceShelf
    let board: StatusBoard
    let sink: DeviceModelSink
    let sessionID = UUID().uuidString.lowercased()
    let task: Task<Void, Never>

    init(url: String, token: String, continuous: Bool) throws {
        let directory = NSTemporaryDirectory() + "kiosk-share-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try EdgeStore(path: directory + "/hhd.sqlite")
        let board = StatusBoard(.starting(configuration: KioskConfiguration(), paths: DaemonPaths(configuration: KioskConfiguration()), enrollment: nil, storeQuota: 1 << 30))
        let (inputs, inbox) = AsyncStream<ConversationInput>.makeStream()
        var playerSettings = ReplyPlayer.Settings()
        playerSettings.continuous = continuous
        let sink = DeviceModelSink()
        let player = ReplyPlayer(sink: sink, settings: playerSettings) { inbox.yield(.playback($0)) }
        var logger = Logger(label: "kiosk-share")
        logger.logLevel = .critical
        let shelf = UtteranceShelf()
        let client = HTTPTurnClient(enrollment: Enrollment(relayURL: url, token: token), timeoutSeconds: 30, userAgent: "turn-bench")
        let service = ConversationService(
            inputs: inputs, inbox: inbox, store: store, client: client, player: player, apology: [], shelf: shelf,
            board: board, logger: logger, settings: ConversationService.Settings())
        (self.inbox, self.shelf, self.board, self.sink) = (inbox, shelf, board, sink)
        task = Task { await service.run() }
        inbox.yield(.sessionOpened(sessionID))
    }

    /// One turn: (utterance end → request at the relay, first reply audio byte → first sample heard).
    func turn(_ samples: [Float], probe: WireProbe) async throws -> (Duration, Duration) {
        // Let the last reply's stop settle (a write that was waiting for room completes), and
        // with the speaker running between replies let its buffer fill with silence again.
        try await Task.sleep(for: .milliseconds(400))
        _ = sink.takeFirstHeard()
        let answered = board.snapshot.conversation.turns
        let turnID = UUID().uuidString.lowercased()
        shelf.put(turnID, samples: samples)
        let ended = ContinuousClock.now
        inbox.yield(.utterance(turnID: turnID, sessionID: sessionID, startedAt: Date()))
        let deadline = ContinuousClock.now + .seconds(30)
        var heard: ContinuousClock.Instant?
        while heard == nil || board.snapshot.conversation.turns == answered {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(2))
            if heard == nil { heard = sink.takeFirstHeard() }
        }
        inbox.yield(.speechStarted)  // stop the reply: the next turn need not wait for it
        while board.snapshot.conversation.state != "listening" { try await Task.sleep(for: .milliseconds(5)) }
        guard let request = probe.lastRequest, let audio = probe.lastReplyAudio, let heard else { throw CancellationError() }
        return (ended.duration(to: request), audio.duration(to: heard))
    }
}

/// The same turn without the kiosk: the kiosk's HTTP client posts the same body and fetches
/// the reply. Returns (POST leaving → the router, the router's first audio write → received).
func bareTurn(url: String, token: String, audio: Data, probe: WireProbe) async throws -> (Duration, Duration) {
    let (sent, _, firstAudio) = try await postTurn(url, token: token, audio: audio, http: HTTPRelayClient.deviceAPIClient)
    guard let request = probe.lastRequest, let left = probe.lastReplyAudio else { throw CancellationError() }
    return (sent.duration(to: request), left.duration(to: firstAudio))
}

/// Prints the kiosk's share of turn latency, medians of `runs` turns, beside the references.
func measureKioskShare(question: [Int16], runs: Int) async throws {
    let probe = WireProbe()
    let offline = try OfflineVoice.load(decoders: 1)
    // A recogniser and a responder that answer at once, eSpeak NG speaking: only the kiosk's side
    // and the wire count, with the reply streamed as the relay streams it.
    let relay = try await startRelay(
        VoicePipeline(speechToText: DelayedSpeechToText(delay: .zero), responder: DelayedResponder(delay: .zero), textToSpeech: offline.textToSpeech),
        probe: probe)
    defer { relay.task.cancel() }
    let floats = question.map { Float($0) / 32_768 }
    let wav = Data(WAVBytes.file(question, sampleRate: 16_000))
    func ms(_ values: [Duration]) -> String { String(format: "%.1f ms", percentile(values.map { $0 / .milliseconds(1) }, 0.5)) }

    var bareRequest: [Duration] = [], bareReply: [Duration] = []
    _ = try await bareTurn(url: relay.url, token: relay.token, audio: wav, probe: probe)  // warm-up
    for _ in 0..<runs {
        let (request, reply) = try await bareTurn(url: relay.url, token: relay.token, audio: wav, probe: probe)
        bareRequest.append(request)
        bareReply.append(reply)
    }
    for continuous in [false, true] {
        let kiosk = try KioskUnderTest(url: relay.url, token: relay.token, continuous: continuous)
        var toRequest: [Duration] = [], toHeard: [Duration] = []
        _ = try await kiosk.turn(floats, probe: probe)  // warm-up
        for _ in 0..<runs {
            let (request, heard) = try await kiosk.turn(floats, probe: probe)
            toRequest.append(request)
            toHeard.append(heard)
        }
        kiosk.task.cancel()
        print("kiosk's share, \(continuous ? "speaker running between replies (echo canceller)" : "speaker opened per reply"), median of \(runs) turns: utterance end → request at the relay \(ms(toRequest)) (reference: the same request posted alone \(ms(bareRequest))); first reply audio byte → first sample heard \(ms(toHeard)) (reference: the same reply fetched alone, to its first audio bytes received \(ms(bareReply))); targets ≤ 50 ms each")
    }
}
