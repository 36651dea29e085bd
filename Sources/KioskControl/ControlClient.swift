import Foundation
import HHProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Why `hhctl` could not get an answer from the daemon.
public enum ControlClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing listens at the socket: the daemon is not running.
    case notRunning(path: String, reason: String)
    /// The daemon did not answer in time, or answered nonsense.
    case failed(String)
    /// The daemon refused the request.
    case refused(String)

    public var description: String {
        switch self {
        case .notRunning(let path, let reason): "hhd is not running (no daemon at \(path): \(reason))"
        case .failed(let message): "no answer from hhd: \(message)"
        case .refused(let message): "hhd refused: \(message)"
        }
    }
}

/// The client side of the control socket (plain POSIX sockets: `hhctl` starts and answers in
/// milliseconds).
public struct ControlClient: Sendable {
    /// The socket path.
    public let path: String
    /// How long to wait for the answer, seconds.
    public var timeout: Double = 2

    /// A client for the socket at `path`.
    public init(path: String) {
        self.path = path
    }

    /// The socket `hhctl` talks to: `--socket`, else `$HHCTL_SOCKET`, else the daemon's default
    /// under systemd (`/run/health-helper/hhd.sock`) or in the state directory.
    public static func defaultPath(
        flag: String?, stateDirectory: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let flag { return flag }
        if let variable = environment["HHCTL_SOCKET"], !variable.isEmpty { return variable }
        if let stateDirectory { return stateDirectory + "/hhd.sock" }
        // Under systemd the socket's directory is there even for a user not allowed into it:
        // that user is then told "permission denied" about the right path.
        let systemd = "/run/health-helper/hhd.sock"
        if FileManager.default.fileExists(atPath: (systemd as NSString).deletingLastPathComponent) { return systemd }
        return KioskConfiguration().stateDirectory + "/hhd.sock"
    }

    /// Sends one request and returns the daemon's answer.
    public func send(_ request: ControlProtocol.Request) throws(ControlClientError) -> ControlProtocol.Response {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .failed("socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .failed("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            if code == ENOENT || code == ECONNREFUSED || code == ENOTDIR { throw .notRunning(path: path, reason: reason) }
            if code == EACCES { throw .failed("\(path): \(reason) (hhctl needs root or membership of the health-helper group)") }
            throw .failed("\(path): \(reason)")
        }
        var line: Data
        do { line = try JSONEncoder().encode(request) } catch { throw .failed("encoding the request: \(error)") }
        line.append(UInt8(ascii: "\n"))
        let sent = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard sent == line.count else { throw .failed("write: \(String(cString: strerror(errno)))") }
        var reply = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while !reply.contains(UInt8(ascii: "\n")) {
            let got = read(descriptor, &chunk, chunk.count)
            if got < 0 && errno == EINTR { continue }
            if got < 0 { throw .failed(errno == EAGAIN ? "timed out after \(timeout) s" : String(cString: strerror(errno))) }
            if got == 0 { break }
            reply.append(contentsOf: chunk[0..<got])
        }
        let response: ControlProtocol.Response
        do { response = try ControlJSON.decoder().decode(ControlProtocol.Response.self, from: reply) } catch {
            throw .failed("unreadable answer: \(String(decoding: reply.prefix(200), as: UTF8.self))")
        }
        guard response.ok else { throw .refused(response.error ?? "no reason given") }
        return response
    }
}
