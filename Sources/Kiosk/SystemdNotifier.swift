import Foundation
import KioskControl
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Talks to systemd through `$NOTIFY_SOCKET` (the `sd_notify` protocol, written here without
/// libsystemd): `READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`. Does nothing when the
/// daemon does not run under systemd.
public struct SystemdNotifier: Sendable {
    private let socketPath: String?

    /// A notifier for the socket in the environment, if any.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether systemd is listening.
    public var isActive: Bool { socketPath != nil }

    /// Sends one notification datagram, e.g. `READY=1\nSTATUS=running`.
    @discardableResult
    public func notify(_ message: String) -> Bool {
        guard let socketPath else { return false }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // A leading "@" names an abstract socket: its first byte is NUL.
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, bytes, bytes.count, 0, $0, length) }
        }
        return sent == bytes.count
    }

    /// The watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
    public static func watchdogInterval(environment: [String: String] = ProcessInfo.processInfo.environment) -> Double? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = Double(text), microseconds > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], pid != String(getpid()) { return nil }
        return microseconds / 1e6
    }
}

/// Pings the systemd watchdog at half its interval with a one-line status, while the
/// daemon's async runtime is alive and every capture thread has shown signs of life within
/// the interval (a thread stuck in a driver call stops the pings, and systemd restarts us).
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Double?
    let board: StatusBoard
    let threads: [CaptureThread]
    let logger: Logger

    func run() async throws {
        let period = (interval ?? 10) / 2
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let status = board.snapshot
                var line = "camera \(status.camera.state.rawValue), microphone \(status.microphone.state.rawValue)"
                if let bpm = status.heartRate.bpm { line += ", \(Int(bpm.rounded())) bpm" }
                line += ", outbox \(status.outbox.depth)"
                let alive = threads.allSatisfy { $0.isAlive(within: interval ?? 10) }
                if !alive { logger.critical("a capture thread is stuck; withholding the watchdog ping") }
                notifier.notify((interval != nil && alive ? "WATCHDOG=1\n" : "") + "STATUS=\(line)")
                try? await Task.sleep(for: .seconds(period))
            }
        }
    }
}
