import Foundation
import TOMLKit
import VitalsCore

/// The daemon's settings: `configs/hhd.toml` documents every key with its default.
/// Command-line flags override the file; a bad value stops the start with a
/// ``KioskConfigurationError`` naming the key and what it allows.
public struct KioskConfiguration: Sendable, Hashable {
    /// How file sources are read.
    public enum Pace: String, Sendable, Hashable, CaseIterable {
        /// At the media's own rate, like a device.
        case realtime
        /// As fast as possible; at the end of the files the daemon drains and exits.
        case fast
    }

    /// The camera pixel format to prefer.
    public enum CameraFormat: String, Sendable, Hashable, CaseIterable {
        case auto, yuyv, nv12, mjpeg
    }

    /// Where state and the control socket live, and how the daemon logs.
    public var stateDirectory = "/var/lib/health-helper"
    /// The control socket; empty: `$RUNTIME_DIRECTORY/hhd.sock`, else `<state_dir>/hhd.sock`.
    public var socketPath = ""
    /// swift-log level name.
    public var logLevel = "info"

    /// V4L2 device or `.y4m` file; empty disables the camera.
    public var cameraDevice = "/dev/video0"
    public var cameraWidth = 640
    public var cameraHeight = 480
    public var cameraFPS = 30
    public var cameraFormat = CameraFormat.auto

    /// ALSA capture PCM or `.wav` file; empty disables the microphone.
    public var microphoneDevice = "default"
    /// ALSA period, milliseconds.
    public var microphonePeriodMs = 20
    /// ALSA buffer, milliseconds.
    public var microphoneBufferMs = 1_000
    /// ALSA playback PCM for spoken replies, or a `.wav` file to write them to; empty: no
    /// conversation (utterances are still recorded).
    public var speakerDevice = "default"
    /// Gain of the replies, 0…1.
    public var speakerVolume = 0.8
    /// Reply audio buffered before playback starts (and after an underrun), milliseconds.
    public var jitterBufferMs = 120
    /// The kiosk's own apology, played when the relay does not answer a turn.
    public var apologyAudio = "/usr/share/health-helper/apology.wav"
    /// Seconds a turn may take before the kiosk apologises and keeps it for later.
    public var turnTimeout = 15.0
    /// How readily speech over a reply stops it, 0 (only sustained speech) to 1 (the first
    /// syllable).
    public var bargeInSensitivity = 0.7
    /// The echo path the echo canceller models (speaker buffer, room, microphone buffer),
    /// milliseconds; 0 turns the canceller off.
    public var echoTailMs = 300

    /// Pace of file sources.
    public var pace = Pace.realtime

    /// Pulse extraction method.
    public var pulseMethod = VitalsConfiguration().method
    /// Voice activity detector sensitivity, 0…1.
    public var voiceSensitivity = 0.5

    /// Seconds without a person that end a session.
    public var absenceTimeout = 10.0
    /// Longest session, seconds.
    public var maximumSessionLength = 1800.0

    /// Relay base URL; empty: use the enrolment (`hhctl enroll`), else deliver nothing.
    public var relayURL = ""
    /// File with the device token; empty: the systemd credential `device-token`, then the
    /// enrolment file.
    public var tokenFile = ""
    /// Per-request timeout, seconds.
    public var relayTimeout = 15.0
    /// First retry delay, seconds.
    public var retryInitial = 1.0
    /// Longest retry delay, seconds.
    public var retryMaximum = 300.0
    /// In `fast` pace: how long to keep delivering after the input ends, seconds.
    public var drainTimeout = 30.0

    /// Store quota, MiB.
    public var storageQuotaMB = 512
    /// Delivered sessions kept in the listing.
    public var deliveredHistory = 200

    /// Where the daemon looks for its configuration when not told.
    public static let defaultPath = "/etc/health-helper/hhd.toml"

    /// The defaults.
    public init() {}

    /// Seconds of speech over a reply that stop it, in whole 10 ms frames of the voice detector:
    /// 110 ms at sensitivity 0, 10 ms at 1 (40 ms by default).
    public var bargeInSpeech: Double {
        Double(Int((1 + 10 * (1 - bargeInSensitivity)).rounded())) * 0.01
    }
}

/// A configuration value that is not allowed.
public struct KioskConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key (`section.name`), or empty for the file as a whole.
    public var key: String
    /// What is wrong and what is allowed.
    public var message: String

    /// An error about `key`.
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    /// A description naming the key.
    public var description: String { key.isEmpty ? message : "\(key): \(message)" }
}

extension KioskConfiguration {
    /// Reads a TOML document over the defaults. Unknown sections and keys are errors (a typo
    /// must not silently leave a default in place).
    public static func parse(toml text: String) throws(KioskConfigurationError) -> KioskConfiguration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw KioskConfigurationError(key: "", message: "not valid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw KioskConfigurationError(key: "", message: "not valid TOML: \(error)")
        }
        var configuration = KioskConfiguration()
        let settings = Dictionary(uniqueKeysWithValues: Self.settings.map { ($0.key, $0) })
        let sections = Set(Self.settings.map { $0.key.split(separator: ".")[0] })
        for section in table.keys.sorted() {
            guard sections.contains(Substring(section)), let values = table[section]?.table else {
                throw KioskConfigurationError(key: section, message: "unknown section (allowed: \(sections.sorted().joined(separator: ", ")))")
            }
            for name in values.keys.sorted() {
                let key = "\(section).\(name)"
                guard let setting = settings[key], let value = values[name] else {
                    throw KioskConfigurationError(key: key, message: "unknown key")
                }
                try setting.apply(&configuration, value)
            }
        }
        try configuration.validate()
        return configuration
    }

    /// Reads the TOML file at `path` over the defaults.
    public static func load(path: String) throws(KioskConfigurationError) -> KioskConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw KioskConfigurationError(key: "", message: "cannot read configuration file \(path)")
        }
        return try parse(toml: text)
    }

    /// The configuration a program starts from: the file at `path` when given, else the
    /// default file when it exists, else the defaults.
    public static func resolve(path: String?) throws(KioskConfigurationError) -> KioskConfiguration {
        if let path { return try load(path: path) }
        if FileManager.default.fileExists(atPath: defaultPath) { return try load(path: defaultPath) }
        return KioskConfiguration()
    }

    /// Checks the values that depend on each other or come from flags.
    public func validate() throws(KioskConfigurationError) {
        if !relayURL.isEmpty {
            do { _ = try RelayAddress(relayURL) } catch {
                throw KioskConfigurationError(key: "relay.url", message: error.description)
            }
        }
        if retryMaximum < retryInitial {
            throw KioskConfigurationError(key: "relay.retry_max_s", message: "must be at least relay.retry_initial_s (\(retryInitial))")
        }
        if microphoneBufferMs < 2 * microphonePeriodMs {
            throw KioskConfigurationError(key: "microphone.buffer_ms", message: "must be at least two periods (\(2 * microphonePeriodMs))")
        }
        for (key, path) in [("daemon.state_dir", stateDirectory)] where path.isEmpty {
            throw KioskConfigurationError(key: key, message: "must not be empty")
        }
    }

    /// One key of the file.
    struct Setting: Sendable {
        let key: String
        let apply: @Sendable (inout KioskConfiguration, any TOMLValueConvertible) throws(KioskConfigurationError) -> Void
    }

    /// Every key the file may hold.
    static let settings: [Setting] = [
        string("daemon.state_dir", \.stateDirectory),
        string("daemon.socket", \.socketPath),
        choice("daemon.log_level", \.logLevel, ["trace", "debug", "info", "notice", "warning", "error", "critical"]),
        string("camera.device", \.cameraDevice),
        int("camera.width", \.cameraWidth, 16...4096),
        int("camera.height", \.cameraHeight, 16...4096),
        int("camera.fps", \.cameraFPS, 5...120),
        enumeration("camera.format", \.cameraFormat),
        string("microphone.device", \.microphoneDevice),
        int("microphone.period_ms", \.microphonePeriodMs, 5...100),
        int("microphone.buffer_ms", \.microphoneBufferMs, 10...2000),
        string("speaker.device", \.speakerDevice),
        double("speaker.volume", \.speakerVolume, 0...1),
        int("speaker.jitter_buffer_ms", \.jitterBufferMs, 0...2000),
        string("speaker.apology", \.apologyAudio),
        double("conversation.turn_timeout_s", \.turnTimeout, 1...120),
        double("conversation.barge_in_sensitivity", \.bargeInSensitivity, 0...1),
        int("conversation.echo_tail_ms", \.echoTailMs, 0...1000),
        enumeration("input.pace", \.pace),
        enumeration("vitals.method", \.pulseMethod),
        double("voice.sensitivity", \.voiceSensitivity, 0...1),
        double("session.absence_timeout_s", \.absenceTimeout, 7...3600),
        double("session.maximum_length_s", \.maximumSessionLength, 60...14400),
        string("relay.url", \.relayURL),
        string("relay.token_file", \.tokenFile),
        double("relay.timeout_s", \.relayTimeout, 1...300),
        double("relay.retry_initial_s", \.retryInitial, 0.1...3600),
        double("relay.retry_max_s", \.retryMaximum, 0.1...86400),
        double("relay.drain_timeout_s", \.drainTimeout, 0...3600),
        int("storage.quota_mb", \.storageQuotaMB, 1...1_048_576),
        int("storage.delivered_history", \.deliveredHistory, 0...100_000),
    ]

    private static func string(_ key: String, _ path: any WritableKeyPath<KioskConfiguration, String> & Sendable) -> Setting {
        Setting(key: key) { (configuration, value) throws(KioskConfigurationError) in
            guard let text = value.string else { throw KioskConfigurationError(key: key, message: "expected a string, got \(value.debugDescription)") }
            configuration[keyPath: path] = text
        }
    }

    private static func choice(_ key: String, _ path: any WritableKeyPath<KioskConfiguration, String> & Sendable, _ allowed: [String]) -> Setting {
        Setting(key: key) { (configuration, value) throws(KioskConfigurationError) in
            guard let text = value.string, allowed.contains(text) else {
                throw KioskConfigurationError(key: key, message: "\(value.debugDescription) is not one of \(allowed.joined(separator: ", "))")
            }
            configuration[keyPath: path] = text
        }
    }

    private static func enumeration<E: RawRepresentable<String> & CaseIterable & Sendable>(
        _ key: String, _ path: any WritableKeyPath<KioskConfiguration, E> & Sendable
    ) -> Setting {
        Setting(key: key) { (configuration, value) throws(KioskConfigurationError) in
            guard let text = value.string, let choice = E(rawValue: text) else {
                throw KioskConfigurationError(key: key, message: "\(value.debugDescription) is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            configuration[keyPath: path] = choice
        }
    }

    private static func int(_ key: String, _ path: any WritableKeyPath<KioskConfiguration, Int> & Sendable, _ range: ClosedRange<Int>) -> Setting {
        Setting(key: key) { (configuration, value) throws(KioskConfigurationError) in
            guard let number = value.int, range.contains(number) else {
                throw KioskConfigurationError(key: key, message: "\(value.debugDescription) is not an integer in \(range.lowerBound)…\(range.upperBound)")
            }
            configuration[keyPath: path] = number
        }
    }

    private static func double(_ key: String, _ path: any WritableKeyPath<KioskConfiguration, Double> & Sendable, _ range: ClosedRange<Double>) -> Setting {
        Setting(key: key) { (configuration, value) throws(KioskConfigurationError) in
            guard let number = value.double ?? value.int.map(Double.init), range.contains(number) else {
                throw KioskConfigurationError(key: key, message: "\(value.debugDescription) is not a number in \(range.lowerBound.formatted())…\(range.upperBound.formatted())")
            }
            configuration[keyPath: path] = number
        }
    }
}
