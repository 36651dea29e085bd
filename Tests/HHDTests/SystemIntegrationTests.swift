import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A Unix datagram socket standing in for systemd's `$NOTIFY_SOCKET`.
final class NotifySocket {
    let path: String
    private let descriptor: Int32

    init(directory: String) {
        path = directory + "/notify.sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        var wait = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// The datagrams received within `seconds`.
    func receive(for seconds: Double) -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let got = recv(descriptor, &buffer, buffer.count, 0)
            if got > 0 { messages.append(String(decoding: buffer[0..<got], as: UTF8.self)) }
        }
        return messages
    }
}

extension DaemonTests {
    @Suite struct SystemIntegrationTests {
        @Test func theDaemonTellsSystemdItIsReadyPingsTheWatchdogAndSaysWhenItStops() async throws {
            let directory = temporaryDirectory("notify")
            let notify = NotifySocket(directory: directory)
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory), "--state-dir", directory + "/state", "--video", VisitVideo.path,
                 "--audio", "", "--pace", "realtime"],
                environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"], log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            let running = notify.receive(for: 2.5)
            #expect(running.contains { $0.contains("READY=1") }, "\(running)")
            #expect(running.filter { $0.contains("WATCHDOG=1") }.count >= 3, "pinged at half the 1 s interval: \(running)")
            #expect(running.contains { $0.contains("STATUS=camera running") })
            daemon.send(SIGTERM)
            let stopping = notify.receive(for: 1.5)
            #expect(await daemon.wait(timeout: 20) == 0)
            #expect((running + stopping).contains("STOPPING=1"))
        }

        @Test func theUnitPassesSystemdsOfflineChecks() throws {
            let analyze = "/usr/bin/systemd-analyze"
            try #require(FileManager.default.isExecutableFile(atPath: analyze), "systemd-analyze (Debian's systemd) is needed")
            let unit = repositoryRoot.appendingPathComponent("systemd/hhd.service").path
            let security = try run(analyze, ["security", "--offline=true", "--threshold=20", unit])
            #expect(security.status == 0, "exposure above 2.0:\n\(security.stdout)")
            let score = security.stdout.split(separator: "\n").last { $0.contains("Overall exposure level") }
            #expect(score != nil, "\(security.stdout)")

            // `verify` checks the ExecStart binary exists: point it at the one just built.
            let directory = temporaryDirectory("unit")
            let installed = try String(contentsOfFile: unit, encoding: .utf8)
                .replacingOccurrences(of: "/usr/bin/hhd", with: productsDirectory.appendingPathComponent("hhd").path)
            try installed.write(toFile: directory + "/hhd.service", atomically: true, encoding: .utf8)
            // The man pages the unit names come with the package (the VM test sees them installed).
            let verify = try run(analyze, ["verify", "--man=no", directory + "/hhd.service"])
            #expect(verify.status == 0 && verify.stderr.isEmpty, "systemd-analyze verify:\n\(verify.stderr)")
        }

        @Test func hhdCapturesARealALSADevice() async throws {
            let directory = temporaryDirectory("alsa")
            // Tone at -20 dBFS RMS, longer than the run (the file plugin repeats stale data past its end).
            let samples: [Int16] = (0..<(16_000 * 60)).map { Int16((0.1 * 1.414_213_56 * sin(2 * Double.pi * 300 * Double($0) / 16_000) * 32_767).rounded()) }
            try samples.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: directory + "/in.raw"))
            try """
                pcm.kioskmic { type file slave.pcm "null" file "/dev/null" infile "\(directory)/in.raw" format "raw" }
                """.write(toFile: directory + "/asound.conf", atomically: true, encoding: .utf8)
            let environment = ["ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:\(directory)/asound.conf"]
            let probe = try runProduct("hhctl", ["capture-test", "--video", "", "--audio", "kioskmic", "--seconds", "1"], environment: environment)
            #expect(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
            #expect(probe.stdout.contains("S16_LE 16000 Hz x1, 1.0 s read in") && probe.stdout.contains("level -20.0 dBFS RMS"), "\(probe.stdout)")

            let socket = directory + "/control.sock"
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory), "--state-dir", directory + "/state", "--socket", socket,
                 "--video", "", "--audio", "kioskmic"],
                environment: environment, log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            var status: [String: Any]?
            #expect(eventually(timeout: 10) {
                status = statusJSON(socket: socket)
                return value(status, "microphone.level_dbfs") is Double
            }, "\(daemon.log)")
            #expect(value(status, "microphone.state") as? String == "running")
            #expect(abs((value(status, "microphone.level_dbfs") as? Double ?? 0) + 20) < 0.5)
            #expect(value(status, "microphone.sample_rate") as? Int == 16_000)
            daemon.send(SIGTERM)
            #expect(await daemon.wait(timeout: 20) == 0, "\(daemon.log)")
        }
    }
}
