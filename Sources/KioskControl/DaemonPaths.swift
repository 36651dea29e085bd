import Foundation

/// The kiosk software's version.
public enum KioskVersion {
    /// Reported by `hhd --version`, `hhctl status` and in every session document.
    public static let current = "0.5.0"
}

/// Where the daemon keeps things, derived from the configuration and the environment.
public struct DaemonPaths: Sendable, Hashable {
    /// The state directory.
    public var stateDirectory: String
    /// The SQLite store.
    public var database: String { stateDirectory + "/hhd.sqlite" }
    /// The enrolment `hhctl enroll --state-dir` writes, for a daemon run by hand.
    public var enrollment: String { stateDirectory + "/enrollment.json" }
    /// The enrolment `hhctl enroll` writes on an installed kiosk; the unit loads it as the
    /// systemd credential `enrollment` (the package creates it empty: not enrolled).
    public static let systemEnrollment = "/etc/health-helper/enrollment.json"
    /// The control socket.
    public var socket: String
    /// The lock one daemon holds on the state directory while it runs.
    public var lock: String { stateDirectory + "/hhd.lock" }

    /// The paths for `configuration`: the socket from the configuration, else
    /// `$RUNTIME_DIRECTORY/hhd.sock` (systemd), else `<state_dir>/hhd.sock`.
    public init(configuration: KioskConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) {
        stateDirectory = configuration.stateDirectory
        if !configuration.socketPath.isEmpty {
            socket = configuration.socketPath
        } else if let runtime = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first {
            socket = "\(runtime)/hhd.sock"
        } else {
            socket = configuration.stateDirectory + "/hhd.sock"
        }
    }
}
