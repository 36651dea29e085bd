// turn-bench: what a voice turn costs in the relay, against references measured in the same run.
//
//   turn-bench [--runs N] [--turns T] [--only offline|overhead|kiosk]
//
// 1. Offline (PocketSphinx, the offline responder, eSpeak NG) on a 3 s spoken question: from the
//    end of the utterance (the request leaves) to the first byte of reply audio, split by stage,
//    median of N runs. Reference: PocketSphinx alone decoding the same audio.
// 2. The relay's own overhead: providers that answer after fixed delays (STT 50 ms, responder
//    50 ms, first audio 20 ms), T turns at 16 at once; the time to first audio byte minus the
//    providers' 120 ms, p50 and p99. Reference: the same requests to a relay on the same store
//    whose stages answer at once (the HTTP, parsing, storage and streaming cost alone).
// 3. The kiosk's share (`--only kiosk`, KioskShare.swift): hhd's conversation (the real
//    ConversationService, store, HTTPTurnClient and ReplyPlayer) against this relay, timed on
//    both sides of the wire.
import ArgumentParser
import AsyncHTTPClient
import BenchmarkSupport
import Conversation
import Foundation
import HHProtocol
import Hummingbird
import Logging
import MediaFiles
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Prometheus
import Relay
import SpeechEngines

/// The benchmark's command line.
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "turn-bench", abstract: "What a voice turn costs in the relay and the kiosk.")

    /// The benchmark's three parts.
    enum Part: String, ExpressibleByArgument, CaseIterable { case offline, overhead, kiosk }

    @Option(help: "Runs of the offline turn; the median is reported.")
    var runs = PositiveCount(5)
    @Option(help: "Turns of the relay's overhead measurement, 16 at once.")
    var turns = PositiveCount(320)
    @Option(help: "Only one part.")
    var only: Part?
}

let options = Options.parseOrExit()
let runs = options.runs.value, turns = options.turns.value, only = options.only

struct DelayedSpeechToText: SpeechToText {
    let name = "delayed"
    let delay: Duration
    func transcribe(_ audio: UtteranceAudio, language: String) async throws -> String {
        try await Task.sleep(for: delay)
        return "what is my heart rate"
    }
}

struct DelayedResponder: Responder {
    let name = "delayed"
    let delay: Duration
    func respond(to context: ResponderContext) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            Task {
                try? await Task.sleep(for: delay)
                continuation.yield("Your heart rate was about 72 beats per minute. ")
                continuation.yield("A clinician will look at it with you.")
                continuation.finish()
            }
        }
    }
}

struct DelayedSpeech: TextToSpeech {
    let name = "delayed"
    let delay: Duration
    func speak(_ text: String, language: String) -> AsyncThrowingStream<[Int16], any Error> {
        AsyncThrowingStream { continuation in
            Task {
                try? await Task.sleep(for: delay)
                continuation.yield([Int16](repeating: 500, count: 1_600))
                continuation.finish()
            }
        }
    }
}

/// A relay in this process on a fresh SQLite folder, with `pipeline`; returns its URL and a device token.
func startRelay(_ pipeline: VoicePipeline, probe: WireProbe? = nil) async throws -> (url: String, token: String, task: Task<Void, any Error>) {
    let directory = NSTemporaryDirectory() + "turn-bench-\(UUID().uuidString.prefix(8))"
    var configuration = RelayConfiguration()
    try configuration.apply(["HH_RELAY_DATA_DIR": directory, "HH_RELAY_RATE_LIMIT": "100000", "HH_RELAY_RATE_BURST": "100000"])
    var logger = Logger(label: "turn-bench")
    logger.logLevel = .critical
    let store = try RelayStores.open(configuration: configuration, logger: logger)
    try await store.migrate()
    let objects = try RelayStores.openObjects(configuration: configuration, environment: [:], logger: logger)
    let clinic = try await store.addClinic(name: "Bench")
    let token = DeviceToken.mint(deviceID: UUID().uuidString.lowercased())
    _ = try await store.addDevice(id: token.deviceID, clinicID: clinic.id, name: "bench", secretHash: token.secretHash)
    let voice = VoiceTurnService(pipeline: pipeline, store: store, objects: objects, knowledge: ClinicKnowledgeBook(files: [:]), audioRetentionDays: 0)
    let port = Int.random(in: 20_000..<60_000)
    let router = RelayServer.router(store: store, objects: objects, voice: voice, configuration: configuration, registry: PrometheusCollectorRegistry(), logger: logger)
    let address = ApplicationConfiguration(address: .hostname("127.0.0.1", port: port))
    let task: Task<Void, any Error>
    if let probe {
        let application = Application(responder: ProbedResponder(inner: router.buildResponder(), probe: probe), configuration: address, logger: logger)
        task = Task { try await application.run() }
    } else {
        let application = Application(router: router, configuration: address, logger: logger)
        task = Task { try await application.run() }
    }
    try await Task.sleep(for: .milliseconds(500))
    return ("http://127.0.0.1:\(port)", token.text, task)
}

func multipartBody(_ audio: Data) -> (String, ByteBuffer) {
    let boundary = "bench-\(UUID().uuidString)"
    let turn = try! WireJSON.encoder().encode(VoiceTurnRequest(
        id: UUID().uuidString.lowercased(), startedAt: Date(), vitals: .init(heartRateBpm: 72, heartRateSnrDb: 8)))
    var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"turn\"\r\n\r\n".utf8) + turn
    body += Data("\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"audio\"\r\n\r\n".utf8) + audio + Data("\r\n--\(boundary)--\r\n".utf8)
    return ("multipart/form-data; boundary=\(boundary)", ByteBuffer(data: body))
}

/// The kiosks' side: one connection per turn in flight (the shared client's default pool of 8
/// connections a host would queue 16 concurrent turns behind each other in the client).
let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
    return configuration
}())

/// One turn as a kiosk makes it, through `http`: POST, then GET the reply to its end. Returns
/// when the POST left, the answer, and when the first reply audio byte (past the WAV header)
/// came.
func postTurn(_ url: String, token: String, audio: Data, http: HTTPClient = client) async throws
    -> (sent: ContinuousClock.Instant, answer: VoiceTurnAnswer, firstAudio: ContinuousClock.Instant)
{
    let (type, body) = multipartBody(audio)
    var post = HTTPClientRequest(url: "\(url)/v1/sessions/\(UUID().uuidString.lowercased())/turns")
    post.method = .POST
    post.headers.add(name: "Authorization", value: "Bearer \(token)")
    post.headers.add(name: "Content-Type", value: type)
    post.body = .bytes(body)
    let sent = ContinuousClock.now
    let response = try await http.execute(post, timeout: .seconds(60))
    let answer = try WireJSON.decoder().decode(VoiceTurnAnswer.self, from: Data(buffer: try await response.body.collect(upTo: 1 << 20)))
    var get = HTTPClientRequest(url: url + answer.reply.audioURL)
    get.headers.add(name: "Authorization", value: "Bearer \(token)")
    var firstAudio: ContinuousClock.Instant?
    var received = 0
    for try await piece in try await http.execute(get, timeout: .seconds(60)).body {
        received += piece.readableBytes
        if firstAudio == nil, received > 44 { firstAudio = .now }
    }
    return (sent, answer, firstAudio ?? .now)
}

/// One turn: (seconds from the POST leaving to the first reply audio byte, the answer's stage
/// timings).
func turn(_ url: String, token: String, audio: Data) async throws -> (Double, VoiceTurnAnswer.Timings) {
    let (sent, answer, firstAudio) = try await postTurn(url, token: token, audio: audio)
    return (sent.duration(to: firstAudio) / .seconds(1), answer.timingsMs)
}

func spoken(_ text: String) throws -> Data {
    let path = NSTemporaryDirectory() + "turn-bench.wav"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
    process.arguments = ["-v", "en-us", "-s", "130", "-w", path, text]
    try process.run()
    process.waitUntilExit()
    return try Data(contentsOf: URL(fileURLWithPath: path))
}

// 1. Offline.
let question = try spoken("Excuse me, what is my heart rate?")
let samples: [Int16] = try {
    let (type, body) = multipartBody(question)
    return try TurnUpload.parse(body, contentType: type).audio.samples
}()
func ms(_ value: Double) -> String { String(format: "%.0f ms", value * 1000) }
if only == nil || only == .offline {
    let seconds = Double(question.count - 44) / (22_050 * 2)
    let offline = try OfflineVoice.load(decoders: 2)
    let offlineRelay = try await startRelay(VoicePipeline(speechToText: offline.speechToText, responder: offline.responder, textToSpeech: offline.textToSpeech))
    var firstAudio: [Double] = [], stt: [Double] = [], reference: [Double] = []
    let recognizer = try PocketSphinxRecognizer(grammar: OfflineQuestions.jsgf, decoders: 1)
    _ = try await turn(offlineRelay.url, token: offlineRelay.token, audio: question)  // warm-up
    for _ in 0..<runs {
        let (elapsed, timings) = try await turn(offlineRelay.url, token: offlineRelay.token, audio: question)
        firstAudio.append(elapsed)
        stt.append(Double(timings.speechToText) / 1000)
        let start = ContinuousClock.now
        _ = try await recognizer.transcribe(samples)
        let decode = ContinuousClock.now - start
        reference.append(decode / .seconds(1))
    }
    print(String(format: "offline turn, a %.1f s question, median of %d: end of utterance → first reply audio byte %@ (target ≤ 1500 ms); of which speech to text %@; reference: PocketSphinx alone on the same audio %@ (turn / reference %.2f×)",
                 seconds, runs, ms(percentile(firstAudio, 0.5)), ms(percentile(stt, 0.5)), ms(percentile(reference, 0.5)),
                 percentile(firstAudio, 0.5) / percentile(reference, 0.5)))
    offlineRelay.task.cancel()
}
if only == .offline { exit(0) }
if only == .kiosk || only == nil {
    try await measureKioskShare(question: samples, runs: max(runs, 10))
    if only == .kiosk { exit(0) }
}

// 2. Overhead at 16 concurrent turns, with the audio as a kiosk sends it (16 kHz mono).
let kioskAudio = Data(WAVBytes.file(samples, sampleRate: 16_000))
func concurrent(_ url: String, token: String, width: Int = 16) async throws -> [Double] {
    try await withThrowingTaskGroup(of: [Double].self) { group in
        for worker in 0..<width {
            group.addTask {
                var times: [Double] = []
                for _ in stride(from: worker, to: turns, by: width) { times.append(try await turn(url, token: token, audio: kioskAudio).0) }
                return times
            }
        }
        return try await group.reduce(into: []) { $0 += $1 }
    }
}
let delays = (stt: Duration.milliseconds(50), responder: Duration.milliseconds(50), speech: Duration.milliseconds(20))
let delayed = try await startRelay(VoicePipeline(
    speechToText: DelayedSpeechToText(delay: delays.stt), responder: DelayedResponder(delay: delays.responder), textToSpeech: DelayedSpeech(delay: delays.speech)))
let instant = try await startRelay(VoicePipeline(
    speechToText: DelayedSpeechToText(delay: .zero), responder: DelayedResponder(delay: .zero), textToSpeech: DelayedSpeech(delay: .zero)))
var overheadP50: [Double] = [], overheadP99: [Double] = [], instantP99: [Double] = [], single: [Double] = []
for _ in 0..<max(1, runs / 2) {
    let withDelays = try await concurrent(delayed.url, token: delayed.token).map { $0 - 0.120 }
    let without = try await concurrent(instant.url, token: instant.token)
    overheadP50.append(percentile(withDelays, 0.5))
    overheadP99.append(percentile(withDelays, 0.99))
    instantP99.append(percentile(without, 0.99))
    single.append(percentile(try await concurrent(instant.url, token: instant.token, width: 1), 0.5))
}
print(String(format: "relay overhead, %d turns at 16 at once, providers answering after 50 + 50 + 20 ms, median of %d runs: p50 %@, p99 %@ (target ≤ 30 ms); reference: the same with instant providers, p99 %@; one turn at a time with instant providers, p50 %@",
             turns, overheadP50.count, ms(percentile(overheadP50, 0.5)), ms(percentile(overheadP99, 0.5)), ms(percentile(instantP99, 0.5)), ms(percentile(single, 0.5))))
delayed.task.cancel()
instant.task.cancel()
