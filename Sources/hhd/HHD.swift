import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Kiosk
import KioskControl
import Logging

/// `hhd`: the kiosk daemon. A thin shell over ``Kiosk/Daemon``.
@main
struct HHD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hhd",
        abstract: "The Health Helper kiosk daemon: capture, vitals, voice, store-and-forward.",
        discussion: """
            Settings come from the configuration file (default /etc/health-helper/hhd.toml when \
            it exists); flags override it. With --video FILE.y4m and --audio FILE.wav the daemon \
            reads files instead of devices; at their end it delivers what it can and exits 0. \
            With --speaker FILE.wav the spoken replies are written to the file (in real time \
            with --pace realtime).
            """,
        version: KioskVersion.current
    )

    @Option(help: "Configuration file (TOML).")
    var config: String?

    @Option(help: "State directory (SQLite store, and the control socket outside systemd).")
    var stateDir: String?

    @Option(help: "Camera: a V4L2 device such as /dev/video0, or a .y4m file.")
    var video: String?

    @Option(help: "Microphone: an ALSA PCM name, or a .wav file.")
    var audio: String?

    @Option(help: "Speaker for the spoken replies: an ALSA PCM name, or a .wav file to write them to.")
    var speaker: String?

    @Option(help: "The kiosk's spoken apology (a .wav file), played when the relay does not answer.")
    var apology: String?

    @Option(help: "Relay base URL, e.g. https://relay.example.org.")
    var relay: String?

    @Option(help: "How file input is read: realtime or fast.")
    var pace: String?

    @Option(help: "Control socket path.")
    var socket: String?

    func run() async throws {
        // Every file the daemon creates (store, WAL, lock) is the daemon's alone, under systemd
        // (UMask=0077) or not; the control socket sets its own group mode.
        umask(0o077)
        let configuration: KioskConfiguration
        do {
            configuration = try resolvedConfiguration()
        } catch {
            FileHandle.standardError.write(Data("hhd: configuration error: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG: systemd does not restart on it (RestartPreventExitStatus).
        }
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "hhd")
        do {
            try await Daemon.run(configuration: configuration, logger: logger)
        } catch {
            logger.critical("hhd failed", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }

    /// The file's settings (or the defaults) with the flags applied.
    private func resolvedConfiguration() throws(KioskConfigurationError) -> KioskConfiguration {
        var configuration = try KioskConfiguration.resolve(path: config)
        if let stateDir { configuration.stateDirectory = stateDir }
        if let video { configuration.cameraDevice = video }
        if let audio { configuration.microphoneDevice = audio }
        if let speaker { configuration.speakerDevice = speaker }
        if let apology { configuration.apologyAudio = apology }
        if let relay { configuration.relayURL = relay }
        if let socket { configuration.socketPath = socket }
        if let pace {
            guard let value = KioskConfiguration.Pace(rawValue: pace) else {
                throw KioskConfigurationError(key: "--pace", message: "\"\(pace)\" is not one of realtime, fast")
            }
            configuration.pace = value
        }
        try configuration.validate()
        return configuration
    }
}
