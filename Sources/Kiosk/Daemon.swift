import Devices
import EdgeStore
import Foundation
import HHProtocol
import KioskControl
import Logging
import ServiceLifecycle
import UnixSignals
import VitalsCore
import VoiceCore

#if canImport(Glibc)
import Glibc
#endif


extension Enrollment {
    /// Why the daemon is not enrolled.
    public struct Missing: Error, Sendable, CustomStringConvertible {
        /// What is missing or unusable.
        public var description: String
    }

    /// The relay and token the daemon uses: the URL from the configuration or the enrolment;
    /// the token from `relay.token_file`, the systemd credential `device-token`, or the
    /// enrolment. The enrolment is the systemd credential `enrollment` (the packaged unit loads
    /// /etc/health-helper/enrollment.json, which `hhctl enroll` writes; empty until then), else
    /// enrollment.json in the state directory. Fails, saying why, when either is missing or the
    /// URL is unusable (an enrolment file written by an older `hhctl` is checked as the
    /// configuration is); sessions then wait in the outbox.
    public static func resolve(
        configuration: KioskConfiguration, paths: DaemonPaths,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Result<Enrollment, Missing> {
        let credentials = environment["CREDENTIALS_DIRECTORY"]
        let stored = [credentials.map { $0 + "/enrollment" }, paths.enrollment].lazy.compactMap { path in
            path.flatMap { FileManager.default.contents(atPath: $0) }.flatMap { try? JSONDecoder().decode(Enrollment.self, from: $0) }
        }.first
        let url = configuration.relayURL.isEmpty ? stored?.relayURL : configuration.relayURL
        var token: String?
        if !configuration.tokenFile.isEmpty {
            token = readToken(configuration.tokenFile)
        } else if let credentials, let credential = readToken(credentials + "/device-token") {
            token = credential
        } else {
            token = stored?.token
        }
        guard let url, !url.isEmpty, let token, !token.isEmpty else {
            return .failure(Missing(description: "no relay URL or device token"))
        }
        do {
            return .success(Enrollment(relayURL: try RelayAddress(url).base, token: token))
        } catch {
            return .failure(Missing(description: "relay URL \(error)"))
        }
    }

    private static func readToken(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) }?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The daemon: opens the store, starts capture, the recorder, the outbox, the control socket
/// and the watchdog, and runs them until SIGTERM (or, with file input, the end of the files).
public enum Daemon {
    /// Runs the daemon. Returns when it has shut down cleanly.
    public static func run(configuration: KioskConfiguration, logger: Logger) async throws {
        let environment = ProcessInfo.processInfo.environment
        let paths = DaemonPaths(configuration: configuration, environment: environment)
        do {
            try FileManager.default.createDirectory(atPath: paths.stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw DaemonError("cannot create the state directory \(paths.stateDirectory): \(error.localizedDescription)")
        }
        let lock = try StateDirectoryLock(path: paths.lock)
        defer { lock.release() }
        var storeOptions = EdgeStore.Options()
        storeOptions.quotaBytes = Int64(configuration.storageQuotaMB) << 20
        storeOptions.deliveredHistory = configuration.deliveredHistory
        let store = try EdgeStore(path: paths.database, options: storeOptions)

        let metadata = SessionMetadata(softwareVersion: KioskVersion.current, pulseMethod: configuration.pulseMethod.rawValue)
        try Recorder.recoverInterrupted(store: store, metadata: metadata, logger: logger)

        let resolved = Enrollment.resolve(configuration: configuration, paths: paths, environment: environment)
        let enrollment = try? resolved.get()
        if case .failure(let missing) = resolved { logger.warning("not enrolled (\(missing)): sessions wait in the outbox") }

        let pacing: FilePacing = configuration.pace == .fast ? .fast : .realtime
        let video = makeVideoSource(configuration, pacing: pacing)
        let audio = makeAudioSource(configuration, pacing: pacing)
        let board = StatusBoard(.starting(configuration: configuration, paths: paths, enrollment: enrollment, storeQuota: storeOptions.quotaBytes))
        if let statistics = try? store.outboxStatistics() { board.update { $0.outbox = KioskStatus.Outbox(statistics, now: Date()) } }
        if let backlog = try? store.voiceTurnBacklog() { board.update { $0.conversation.waitingTurns = backlog.waiting } }
        if video == nil { board.update { $0.camera.state = .disabled } }
        if audio == nil { board.update { $0.microphone.state = .disabled } }

        let (events, continuation) = AsyncStream<CaptureEvent>.makeStream()
        let (conversationInputs, conversationInbox) = AsyncStream<ConversationInput>.makeStream()
        let talking = !configuration.speakerDevice.isEmpty
        let shelf = UtteranceShelf()
        // The echo canceller runs when a device microphone can hear a device speaker.
        let hearsSpeaker = talking && [configuration.microphoneDevice, configuration.speakerDevice].allSatisfy { !$0.isEmpty && !isFile($0) }
        let echo = hearsSpeaker && configuration.echoTailMs > 0 ? EchoReference() : nil
        let clock = MediaClock(fast: pacing == .fast)
        var threads: [CaptureThread] = []
        var sources: Set<EventMerger.SourceID> = []
        if let video {
            sources.insert(.video)
            var vitals = VitalsConfiguration()
            vitals.method = configuration.pulseMethod
            let capture = VideoCapture(makeSource: video, configuration: vitals, clock: clock, board: board, logger: logger) { continuation.yield($0) }
            threads.append(CaptureThread(name: "hhd-camera") { capture.run(on: $0) })
        }
        if let audio {
            sources.insert(.audio)
            let utterances = UtteranceConfiguration(detector: VoiceActivityConfiguration(sensitivity: configuration.voiceSensitivity))
            var capture = AudioCapture(makeSource: audio, configuration: utterances, clock: clock, board: board, logger: logger) { continuation.yield($0) }
            if talking {
                capture.shelf = shelf
                capture.bargeInSpeech = configuration.bargeInSpeech
                capture.echo = echo
                capture.echoTailMilliseconds = configuration.echoTailMs
                capture.speechStarted = { conversationInbox.yield(.speechStarted) }
            }
            let microphone = capture
            threads.append(CaptureThread(name: "hhd-microphone") { microphone.run(on: $0) })
        }
        let capture = CaptureService(threads: threads, events: continuation)

        let doorbell = Doorbell()
        let notifier = SystemdNotifier(environment: environment)
        let tracker = SessionTracker(
            configuration: .init(absenceTimeout: configuration.absenceTimeout, maximumLength: configuration.maximumSessionLength),
            makeID: { RandomID.uuid() })
        let recorder = Recorder(
            events: events, sources: sources, store: store, board: board, logger: logger, tracker: tracker,
            metadata: metadata, wallEpoch: Date(), outbox: doorbell, capture: capture,
            conversation: { if talking { conversationInbox.yield($0) } },
            isAnswering: { [board] in talking && board.read { ConversationMachine.State(rawValue: $0.conversation.state)?.isAnswering == true } })
        var policy = RetryPolicy()
        policy.initialDelay = configuration.retryInitial
        policy.maximumDelay = configuration.retryMaximum
        let inputIsFiles = [configuration.cameraDevice, configuration.microphoneDevice].allSatisfy { $0.isEmpty || isFile($0) }
        let outbox = OutboxService(
            store: store,
            relay: enrollment.map { HTTPRelayClient(enrollment: $0, timeoutSeconds: configuration.relayTimeout, userAgent: "hhd/\(KioskVersion.current)") },
            policy: policy, board: board, logger: logger, doorbell: doorbell,
            drainTime: inputIsFiles ? .seconds(configuration.drainTimeout) : nil)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: outbox)]
        let turnDoorbell = Doorbell()
        if talking {
            let (apology, problem) = ApologyAudio.load(path: configuration.apologyAudio)
            if let problem { logger.warning("the apology will be a chime: \(problem)") }
            var playerSettings = ReplyPlayer.Settings()
            playerSettings.volume = configuration.speakerVolume
            playerSettings.prebuffer = .milliseconds(configuration.jitterBufferMs)
            playerSettings.continuous = echo != nil
            let player = ReplyPlayer(sink: makeSpeaker(configuration, pacing: pacing), settings: playerSettings, echo: echo) {
                conversationInbox.yield(.playback($0))
            }
            var settings = ConversationService.Settings()
            settings.turnDeadline = .milliseconds(Int64(configuration.turnTimeout * 1000))
            settings.retry = policy
            settings.drainTime = inputIsFiles ? .seconds(configuration.drainTimeout) : nil
            let conversation = ConversationService(
                inputs: conversationInputs, inbox: conversationInbox, store: store,
                client: enrollment.map { HTTPTurnClient(enrollment: $0, timeoutSeconds: configuration.relayTimeout, userAgent: "hhd/\(KioskVersion.current)") },
                player: player, apology: apology, shelf: shelf, board: board, logger: logger, settings: settings,
                redeliveryDoorbell: turnDoorbell)
            services.append(.init(service: conversation))
        }
        let control = ControlServer(path: paths.socket, board: board, store: store, outbox: doorbell, turns: turnDoorbell, logger: logger) {
            notifier.notify("READY=1\nSTATUS=running")
        }
        let watchdog = WatchdogService(
            notifier: notifier, interval: SystemdNotifier.watchdogInterval(environment: environment), board: board,
            threads: threads, logger: logger)

        let group = ServiceGroup(configuration: .init(
            // Shut down in reverse: the watchdog; the recorder (it stops capture, records what
            // the threads still send and closes the open session); capture; the conversation
            // (playback stops; with files a turn in flight and its reply may finish); the outbox
            // (an upload in flight finishes, or the drain); the control socket. The recorder
            // ends the daemon when its files end.
            services: [.init(service: control)] + services + [
                .init(service: capture),
                .init(service: recorder, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: watchdog),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        logger.info("hhd started", metadata: [
            "version": "\(KioskVersion.current)", "state_dir": "\(paths.stateDirectory)", "socket": "\(paths.socket)",
            "camera": "\(configuration.cameraDevice)", "microphone": "\(configuration.microphoneDevice)",
        ])
        defer { notifier.notify("STOPPING=1") }
        try await group.run()
        logger.info("hhd stopped")
    }

    static func isFile(_ device: String) -> Bool {
        device.hasSuffix(".y4m") || device.hasSuffix(".wav")
    }

    private static func makeVideoSource(_ configuration: KioskConfiguration, pacing: FilePacing) -> (@Sendable () -> any VideoSource)? {
        let device = configuration.cameraDevice
        guard !device.isEmpty else { return nil }
        if device.hasSuffix(".y4m") { return { Y4MFileVideoSource(path: device, pacing: pacing) } }
        let request = CameraRequest(
            width: configuration.cameraWidth, height: configuration.cameraHeight, fps: configuration.cameraFPS,
            preferred: configuration.cameraFormat.rawValue)
        return { V4L2Camera(path: device, request: request) }
    }

    private static func makeSpeaker(_ configuration: KioskConfiguration, pacing: FilePacing) -> any AudioSink {
        let device = configuration.speakerDevice
        if device.hasSuffix(".wav") { return WAVFileSpeaker(path: device, pacing: pacing) }
        return ALSASpeaker(name: device)
    }

    private static func makeAudioSource(_ configuration: KioskConfiguration, pacing: FilePacing) -> (@Sendable () -> any AudioSource)? {
        let device = configuration.microphoneDevice
        guard !device.isEmpty else { return nil }
        if device.hasSuffix(".wav") { return { WAVFileAudioSource(path: device, pacing: pacing) } }
        let period = configuration.microphonePeriodMs
        let buffer = configuration.microphoneBufferMs
        return { ALSAAudioSource(name: device, periodMilliseconds: period, bufferMilliseconds: buffer) }
    }
}

/// An exclusive lock on the state directory, so that a second daemon started on it stops at
/// once instead of taking over the socket and closing the first one's live session. The lock
/// (`flock`) goes with the process, however it ends; the file holds the holder's pid.
final class StateDirectoryLock {
    private let descriptor: Int32

    /// Takes the lock at `path`, or throws naming the daemon that holds it.
    init(path: String) throws(DaemonError) {
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DaemonError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            var bytes = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &bytes, bytes.count, 0)
            let holder = count > 0 ? String(decoding: bytes[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(descriptor)
            if reason == EWOULDBLOCK {
                throw DaemonError("another hhd (pid \(holder)) is already running on this state directory (\(path) is locked)")
            }
            throw DaemonError("cannot lock \(path): \(String(cString: strerror(reason)))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
    }

    /// Lets the lock go (at a clean stop; a killed process lets it go with its descriptors).
    func release() {
        close(descriptor)
    }
}

/// A reason the daemon cannot start.
public struct DaemonError: Error, CustomStringConvertible {
    /// What is wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}
