import Conversation
import Foundation
import HHProtocol
import Hummingbird
import Logging
import MediaFiles
import Prometheus
import Relay
import ServiceLifecycle
import TestSupport

/// The relay's router served in this process, with voice providers the test chooses (fakes
/// that count, stall or fail), on SQLite, a folder and a port the system picks.
///
/// It listens on 127.0.0.2, where no daemon of another test dials (they use 127.0.0.1), and is
/// stopped by a graceful shutdown of its service group, never by cancelling the task serving it:
/// a connection accepted as the serving loop is cancelled is dropped before it is active, and
/// swift-nio traps on its writer (apple/swift-nio#2813 and #3481; it crashed a test run once).
final class InProcessRelay: @unchecked Sendable {
    let store: any RelayStore
    let objects: any ObjectStore
    let port: Int
    let directory: String
    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    private(set) var token = ""
    private(set) var clinicID = ""

    init(pipeline: VoicePipeline, knowledge: ClinicKnowledgeBook = .demo, audioRetentionDays: Int = 0, store: (any RelayStore)? = nil) async throws {
        directory = NSTemporaryDirectory() + "relay-voice-\(UUID().uuidString.prefix(8))"
        var configuration = RelayConfiguration()
        try configuration.apply(["HH_RELAY_DATA_DIR": directory, "HH_RELAY_RATE_LIMIT": "1000", "HH_RELAY_RATE_BURST": "1000"])
        var logger = Logger(label: "voice-test")
        logger.logLevel = .critical
        let store = try store ?? RelayStores.open(configuration: configuration, logger: logger)
        try await store.migrate()
        let objects = try RelayStores.openObjects(configuration: configuration, environment: [:], logger: logger)
        self.store = store
        self.objects = objects
        let voice = VoiceTurnService(
            pipeline: pipeline, store: store, objects: objects, knowledge: knowledge, audioRetentionDays: audioRetentionDays)
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: RelayServer.router(store: store, objects: objects, voice: voice, configuration: configuration, registry: PrometheusCollectorRegistry(), logger: logger),
            configuration: .init(address: .hostname(Self.host, port: 0)),
            onServerRunning: { listening.yield($0.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: logger))
        self.group = group
        running = Task {
            defer { listening.finish() }
            try await group.run()
        }
        guard let port = await ports.first(where: { _ in true }), port > 0 else {
            _ = try? await running.value
            throw RelayDidNotStart()
        }
        self.port = port
        (clinicID, token) = try await addClinic("North")
    }

    /// A new clinic with one device: its id and the device's token.
    func addClinic(_ name: String) async throws -> (String, String) {
        let clinic = try await store.addClinic(name: name)
        let token = DeviceToken.mint(deviceID: UUID().uuidString.lowercased())
        _ = try await store.addDevice(id: token.deviceID, clinicID: clinic.id, name: name, secretHash: token.secretHash)
        return (clinic.id, token.text)
    }

    /// The address it listens on.
    static let host = "127.0.0.2"

    var url: String { "http://\(Self.host):\(port)" }

    /// Sends a turn; returns the status and body.
    func send(session: String, turn: TurnPart, audio: Data?, token: String? = nil) async throws -> (Int, Data) {
        let (contentType, body) = multipart(turn: turn.json, audio: audio)
        let (status, _, data) = try await http(
            "POST", "\(url)/v1/sessions/\(session)/turns",
            headers: [("Authorization", "Bearer \(token ?? self.token)"), ("Content-Type", contentType)], body: body)
        return (status, data)
    }

    /// Stops listening, lets the requests in progress finish, and returns when the server has.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }
}

/// The in-process relay stopped before it listened.
struct RelayDidNotStart: Error {}

/// The `turn` part of a voice turn, as a kiosk writes it.
struct TurnPart {
    var id = UUID().uuidString.lowercased()
    var heartRate: Double? = 72.4
    var snr: Double? = 8.1
    var respiration: Double? = 15
    var language: String? = nil

    var json: Data {
        try! WireJSON.encoder().encode(VoiceTurnRequest(
            id: id, startedAt: Date(timeIntervalSince1970: 1_800_000_000), language: language,
            vitals: .init(heartRateBpm: heartRate, heartRateSnrDb: snr, respirationBpm: respiration)))
    }
}

/// A `multipart/form-data` body of a `turn` part and (if given) an `audio` part.
func multipart(turn: Data?, audio: Data?, boundary: String = "hh-\(UUID().uuidString)") -> (String, Data) {
    var body = Data()
    func part(_ name: String, _ type: String, _ bytes: Data) {
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\nContent-Type: \(type)\r\n\r\n".utf8)
        body += bytes
        body += Data("\r\n".utf8)
    }
    if let turn { part("turn", "application/json", turn) }
    if let audio { part("audio", "audio/wav", audio) }
    body += Data("--\(boundary)--\r\n".utf8)
    return ("multipart/form-data; boundary=\(boundary)", body)
}

/// `text` spoken by eSpeak NG's command-line program (a voice, a speed): a WAV file.
func spoken(_ text: String, voice: String = "en-us", wordsPerMinute: Int = 165) throws -> Data {
    let path = NSTemporaryDirectory() + "spoken-\(UUID().uuidString.prefix(8)).wav"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let result = try run("/usr/bin/espeak-ng", ["-v", voice, "-s", String(wordsPerMinute), "-w", path, text])
    guard result.status == 0 else { throw TestSetupError("espeak-ng: \(result.stderr)") }
    return try Data(contentsOf: URL(fileURLWithPath: path))
}

/// A WAV file of 16-bit `samples` at `rate` with `channels`.
func wavFile(_ samples: [Int16], rate: Int = 16_000, channels: Int = 1) -> Data {
    Data(WAVBytes.file(samples, sampleRate: rate, channels: channels))
}

extension ClinicKnowledgeBook {
    /// The demo clinic's facts.
    static let demo = ClinicKnowledgeBook(files: ["default": .init(name: "North Clinic", entries: [
        .init(topic: "opening_hours", asks: ["opening hours", "when … open", "when … close", "what time … close"], answer: "We are open from eight in the morning to six in the evening, Monday to Friday."),
        .init(topic: "pharmacy", asks: ["pharmacy"], answer: "The pharmacy is on the ground floor, next to the main entrance."),
    ])])
}

// MARK: Fake providers

/// Answers a fixed transcript and counts its calls.
final class ScriptedSpeechToText: SpeechToText, @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private var transcripts: [String]
    private(set) var calls = 0
    private let failure: (any Error)?
    private let delay: Duration

    init(name: String = "scripted-stt", _ transcripts: [String] = [], failing failure: (any Error)? = nil, delay: Duration = .zero) {
        self.name = name
        self.transcripts = transcripts
        self.failure = failure
        self.delay = delay
    }

    func transcribe(_ audio: UtteranceAudio, language: String) async throws -> String {
        let next: String? = lock.withLock {
            calls += 1
            return transcripts.isEmpty ? nil : transcripts.removeFirst()
        }
        try await Task.sleep(for: delay)
        if let failure { throw failure }
        return next ?? ""
    }
}

/// Writes a fixed reply in pieces, a delay apart, and counts its calls.
final class ScriptedResponder: Responder, @unchecked Sendable {
    let name: String
    private let pieces: [String]
    private let delay: Duration
    private let failure: (any Error)?
    private let lock = NSLock()
    private var count = 0
    var calls: Int { lock.withLock { count } }

    init(name: String = "scripted-model", _ pieces: [String], delay: Duration = .zero, failingAfter failure: (any Error)? = nil) {
        self.name = name
        self.pieces = pieces
        self.delay = delay
        self.failure = failure
    }

    func respond(to context: ResponderContext) -> AsyncThrowingStream<String, any Error> {
        lock.withLock { count += 1 }
        let (pieces, delay, failure) = (self.pieces, self.delay, self.failure)
        return AsyncThrowingStream { continuation in
            let task = Task {
                for piece in pieces {
                    try? await Task.sleep(for: delay)
                    continuation.yield(piece)
                }
                continuation.finish(throwing: failure)
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Speaks each sentence as a tone, a chunk at a time with a pause between chunks, and
/// records what it was asked to say.
final class RecordingSpeech: TextToSpeech, @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private var said: [String] = []
    private var done = 0
    let chunks: Int
    let pause: Duration
    let failure: (any Error)?

    init(name: String = "recording-tts", chunks: Int = 3, pause: Duration = .zero, failing failure: (any Error)? = nil) {
        self.name = name
        self.chunks = chunks
        self.pause = pause
        self.failure = failure
    }

    var sentences: [String] { lock.withLock { said } }
    /// Sentences completely spoken.
    var finished: Int { lock.withLock { done } }

    func speak(_ text: String, language: String) -> AsyncThrowingStream<[Int16], any Error> {
        lock.withLock { said.append(text) }
        let (chunks, pause, failure) = (self.chunks, self.pause, self.failure)
        return AsyncThrowingStream { continuation in
            let task = Task {
                if let failure { continuation.finish(throwing: failure); return }
                for index in 0..<chunks {
                    if index > 0 { try? await Task.sleep(for: pause) }
                    continuation.yield([Int16](repeating: 1_000, count: 1_600))
                }
                self.lock.withLock { self.done += 1 }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// The offline stack, loaded once for all tests of this process (PocketSphinx takes a moment).
let offlineVoice: OfflineVoice = try! OfflineVoice.load(decoders: 2)

/// Loud enough not to be silence: a second of a 220 Hz tone.
let toneWAV: Data = wavFile((0..<16_000).map { Int16(8_000 * sin(2 * Double.pi * 220 * Double($0) / 16_000)) })
