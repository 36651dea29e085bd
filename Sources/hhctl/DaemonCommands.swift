import ArgumentParser
import Devices
import EchoCancellation
import Foundation
import HHProtocol
import KioskControl

#if canImport(Glibc)
import Glibc
#endif

/// Options shared by the commands that talk to the daemon.
struct SocketOptions: ParsableArguments {
    @Option(help: "The daemon's control socket (default: $HHCTL_SOCKET, /run/health-helper/hhd.sock, or hhd.sock in --state-dir).")
    var socket: String?

    @Option(help: "The daemon's state directory, to find its socket there.")
    var stateDir: String?

    /// Sends `request` to the daemon; "not running" exits 3, like `systemctl status`.
    func send(_ request: ControlProtocol.Request) throws -> ControlProtocol.Response {
        let client = ControlClient(path: ControlClient.defaultPath(flag: socket, stateDirectory: stateDir))
        do {
            return try client.send(request)
        } catch {
            FileHandle.standardError.write(Data("hhctl: \(error)\n".utf8))
            if case .notRunning = error { throw ExitCode(3) }
            throw ExitCode.failure
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the daemon's state: devices, live heart rate, session, outbox, relay, disk.",
        discussion: "Exits 3 when the daemon is not running. --json prints the full state (see docs/HHCTL.md)."
    )

    @OptionGroup var connection: SocketOptions

    @Flag(help: "Print the state as JSON.")
    var json = false

    func run() throws {
        let response = try connection.send(.init(command: "status"))
        guard let status = response.status else { throw Failure("hhd sent no status") }
        if json {
            let encoder = ControlJSON.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            print(StatusText.render(status, now: Date()), terminator: "")
        }
    }
}

struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List recent sessions and their delivery state.")

    @OptionGroup var connection: SocketOptions

    @Option(help: "How many sessions to list.")
    var limit = 20

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let sessions = try connection.send(.init(command: "sessions", limit: limit)).sessions ?? []
        if json {
            let encoder = ControlJSON.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            print(String(decoding: try encoder.encode(sessions), as: UTF8.self))
            return
        }
        guard !sessions.isEmpty else {
            print("no sessions yet")
            return
        }
        print("SESSION                               STARTED (UTC)        LENGTH  STATE      TRIES  DETAIL")
        for session in sessions {
            let length = session.endedAt.map { StatusText.duration($0.timeIntervalSince(session.startedAt)) } ?? "open"
            print([
                session.id.padding(toLength: 37, withPad: " ", startingAt: 0),
                StatusText.timestamp(session.startedAt).padding(toLength: 20, withPad: " ", startingAt: 0),
                length.padding(toLength: 7, withPad: " ", startingAt: 0),
                session.state.padding(toLength: 10, withPad: " ", startingAt: 0),
                String(session.attempts).padding(toLength: 6, withPad: " ", startingAt: 0),
                session.detail ?? "",
            ].joined(separator: " "))
            for turn in session.turns {
                let said = turn.transcript.map { "\"\($0)\"" } ?? "(not heard yet)"
                let answered = turn.replyText.map { " → \"\($0)\"" } ?? ""
                print("    turn \(turn.id.prefix(8)) \(turn.state): \(said)\(answered)\(turn.detail.map { "  [\($0)]" } ?? "")")
            }
        }
    }
}

struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deliver waiting sessions now, without waiting for the backoff.")

    @OptionGroup var connection: SocketOptions

    func run() throws {
        let flushed = try connection.send(.init(command: "flush")).flushed ?? 0
        print(flushed == 0 ? "outbox empty" : "delivering \(flushed) waiting session(s) now")
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Work with hhd's configuration.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a configuration file as hhd would at start.")

        @Argument(help: "The file (default \(KioskConfiguration.defaultPath)).")
        var file: String = KioskConfiguration.defaultPath

        func run() throws {
            do {
                _ = try KioskConfiguration.load(path: file)
            } catch {
                throw Failure("\(file): \(error)")
            }
            print("\(file): configuration OK")
        }
    }
}

struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store the relay URL and this kiosk's device token for hhd.",
        discussion: """
            On an installed kiosk (run as root) writes \(DaemonPaths.systemEnrollment) (mode 0600), \
            which the hhd unit loads as its systemd credential "enrollment", then restarts hhd.service. \
            With --state-dir, for a daemon run by hand, writes enrollment.json there instead; restart \
            hhd yourself. A token in the systemd credential device-token, or in relay.token_file, \
            takes precedence.
            """
    )

    @Option(help: "The relay's base URL.")
    var relay: String

    @Option(help: "The device token (from hh-relay admin add-device).")
    var token: String?

    @Option(help: "Read the device token from this file instead.")
    var tokenFile: String?

    @Option(help: "Enrol a daemon run by hand: write enrollment.json in this state directory.")
    var stateDir: String?

    @Flag(help: "Do not restart hhd.service after writing the credential.")
    var noRestart = false

    func run() throws {
        var check = KioskConfiguration()
        check.relayURL = relay
        do { try check.validate() } catch { throw Failure("\(error)") }
        let secret: String
        if let token {
            secret = token
        } else if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else { throw Failure("cannot read \(tokenFile)") }
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            throw Failure("give the device token with --token or --token-file")
        }
        guard !secret.isEmpty, !secret.contains(where: \.isWhitespace) else { throw Failure("the device token is empty or contains spaces") }
        let path: String
        if let stateDir {
            path = DaemonPaths(configuration: { var c = KioskConfiguration(); c.stateDirectory = stateDir; return c }()).enrollment
            do { try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true) } catch {
                throw Failure("cannot create \(stateDir): \(error.localizedDescription)")
            }
        } else {
            path = DaemonPaths.systemEnrollment
            let directory = (path as NSString).deletingLastPathComponent
            guard FileManager.default.fileExists(atPath: directory) else {
                throw Failure("no \(directory): the health-helper-kiosk package is not installed here; for a daemon run by hand, give --state-dir")
            }
        }
        try writePrivately(JSONEncoder().encode(Enrollment(relayURL: relay, token: secret)), to: path)
        guard stateDir == nil else {
            print("enrolled with \(relay); restart hhd to use it")
            return
        }
        guard !noRestart, FileManager.default.fileExists(atPath: "/run/systemd/system") else {
            print("enrolled with \(relay); restart hhd to use it (systemctl restart hhd)")
            return
        }
        let restart = Process()
        restart.executableURL = URL(fileURLWithPath: "/bin/systemctl")
        restart.arguments = ["restart", "hhd.service"]
        do { try restart.run() } catch { throw Failure("enrolled, but cannot run systemctl: \(error.localizedDescription)") }
        restart.waitUntilExit()
        guard restart.terminationStatus == 0 else {
            throw Failure("enrolled, but systemctl restart hhd failed (exit \(restart.terminationStatus)); see systemctl status hhd")
        }
        print("enrolled with \(relay); hhd restarted (hhctl status shows the relay)")
    }

    /// Writes `data` to `path` readable by its owner only, atomically: hhd never reads a half-written file.
    private func writePrivately(_ data: Data, to path: String) throws {
        guard FileManager.default.createFile(atPath: path + ".new", contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw Failure("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        guard rename(path + ".new", path) == 0 else { throw Failure("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}

struct CaptureTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture-test",
        abstract: "Grab a few seconds from the configured camera and microphone; report formats, fps and levels.",
        discussion: "Stop hhd first: a camera opens for one program at a time."
    )

    @Option(help: "Configuration file to take the devices from.")
    var config: String?

    @Option(help: "Camera device (overrides the configuration).")
    var video: String?

    @Option(help: "ALSA capture PCM (overrides the configuration).")
    var audio: String?

    @Option(help: "Seconds to capture.")
    var seconds: Double = 3

    func run() throws {
        let configuration = try toolConfiguration(config)
        let camera = video ?? configuration.cameraDevice
        let microphone = audio ?? configuration.microphoneDevice
        var failed = false
        if !camera.isEmpty {
            let source: any VideoSource = camera.hasSuffix(".y4m")
                ? Y4MFileVideoSource(path: camera, pacing: .realtime)
                : V4L2Camera(path: camera, request: CameraRequest(
                    width: configuration.cameraWidth, height: configuration.cameraHeight, fps: configuration.cameraFPS,
                    preferred: configuration.cameraFormat.rawValue))
            do {
                let report = try CaptureProbe.video(source, seconds: seconds)
                print("camera      \(camera): \(report)")
            } catch {
                print("camera      \(camera): \(error)")
                failed = true
            }
        }
        if !microphone.isEmpty {
            let source: any AudioSource = microphone.hasSuffix(".wav")
                ? WAVFileAudioSource(path: microphone, pacing: .realtime)
                : ALSAAudioSource(name: microphone, periodMilliseconds: configuration.microphonePeriodMs, bufferMilliseconds: configuration.microphoneBufferMs)
            do {
                let report = try CaptureProbe.audio(source, seconds: seconds)
                print("microphone  \(microphone): \(report)")
            } catch {
                print("microphone  \(microphone): \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }
}

struct SpeakerTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speaker-test",
        abstract: "Play a test sound through the configured speaker and measure the echo path the microphone hears.",
        discussion: """
            Plays sweeps over the speech band at -20 dBFS RMS. With a microphone (a device), records at \
            the same time and reports how much later than the devices' time stamps the echo arrives, its \
            echo return loss, and how much of it the echo canceller takes out. Stop hhd first: a device \
            opens for one program at a time.
            """
    )

    @Option(help: "Configuration file to take the speaker and microphone from.")
    var config: String?

    @Option(help: "ALSA playback PCM (overrides the configuration).")
    var device: String?

    @Option(help: "ALSA capture PCM to hear the echo with (overrides the configuration; \"\" for none).")
    var audio: String?

    @Option(help: "Seconds of sound.")
    var seconds: Double = 2

    func run() throws {
        let configuration = try toolConfiguration(config)
        let name = device ?? configuration.speakerDevice
        let microphone = audio ?? configuration.microphoneDevice
        let source: (any AudioSource)? = microphone.isEmpty || microphone.hasSuffix(".wav") ? nil : ALSAAudioSource(name: microphone)
        let result: SpeakerProbe.Result
        do { result = try SpeakerProbe.run(speaker: ALSASpeaker(name: name), microphone: source, seconds: seconds) } catch {
            throw Failure("speaker \(name): \(error)")
        }
        print("speaker     \(name): \(result.speaker)")
        guard source != nil else { return }
        if let error = result.microphoneError {
            print("echo path   not measured: microphone \(microphone): \(error)")
        } else if let echo = result.echo, let delay = echo.delayMilliseconds, let loss = echo.returnLossDb {
            let cancelled = echo.cancellationDb.map { String(format: "%.1f dB", $0) } ?? "not measured"
            print(String(format: "echo path   heard by %@ %.1f ms after the devices' stamps (correlation %.2f); echo return loss %.1f dB; the echo canceller takes out %@", microphone, delay, echo.correlation, loss, cancelled))
        } else {
            print(String(format: "echo path   not heard by %@ (correlation %.2f): the microphone does not hear the speaker (muted, or far away), and barge-in needs nothing cancelled", microphone, result.echo?.correlation ?? 0))
        }
    }
}

/// The configuration an hhctl command takes its devices from (see ``KioskConfiguration/resolve(path:)``).
func toolConfiguration(_ path: String?) throws -> KioskConfiguration {
    do { return try KioskConfiguration.resolve(path: path) } catch { throw Failure("\(path ?? KioskConfiguration.defaultPath): \(error)") }
}
