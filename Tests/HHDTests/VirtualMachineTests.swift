import Foundation
import Testing

extension DaemonTests {
    /// The V4L2 and real-time ALSA code against real kernel drivers: a Debian kernel under QEMU
    /// with `vivid` (a virtual camera) and `snd-aloop` (a loopback sound card), running
    /// `hhctl capture-test`, `hhctl speaker-test` and `hhd` inside (scripts/vm-device-test.sh;
    /// the kernel comes from scripts/vm-assets.sh, which `make test` runs).
    @Suite struct VirtualMachineTests {
        @Test func captureWorksAgainstRealKernelDevices() throws {
            let vm = repositoryRoot.appendingPathComponent("out/vm").path
            try #require(FileManager.default.fileExists(atPath: vm + "/kernel/ready"), "no VM kernel: run scripts/vm-assets.sh out/vm (make test does)")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [repositoryRoot.appendingPathComponent("scripts/vm-device-test.sh").path, productsDirectory.path, vm]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let console = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let lines = console.split(whereSeparator: \.isNewline).map(String.init).filter { $0.contains("HH-VM") }
            func line(_ prefix: String) -> String? { lines.first { $0.contains("HH-VM " + prefix) } }
            func number(after marker: String, in text: String?) -> Double? {
                guard let text, let range = text.range(of: marker) else { return nil }
                return Double(text[range.upperBound...].prefix { "0123456789.-".contains($0) })
            }
            try #require(line("end") != nil, "the VM did not finish:\n\(console.suffix(4000))")
            #expect(line("devices")?.contains("/dev/video0") == true)

            // The camera: YUYV negotiated, frames at the driver's rate (vivid: 25 fps).
            let camera = line("camera")
            #expect(camera?.contains("yuyv 640x480") == true, "\(camera ?? "no camera line")")
            let fps = number(after: "measured ", in: camera) ?? 0
            #expect(fps > 15 && fps < 31, "measured fps \(fps)")
            // Another size and format asked for by configuration: NV12 at 1280x720.
            let nv12 = line("nv12 camera")
            #expect(nv12?.contains("nv12 1280x720") == true, "\(nv12 ?? "no nv12 line")")

            // The microphone: the tone played into the loopback card comes back at its level,
            // paced in real time (3 s of audio take about 3 s).
            let microphone = line("microphone")
            #expect(microphone?.contains("S16_LE 16000 Hz x1, 3.0 s read in") == true, "\(microphone ?? "no microphone line")")
            let wall = number(after: "read in ", in: microphone) ?? 0
            #expect(wall > 2.7 && wall < 4.5, "3 s of audio read in \(wall) s (a file would take milliseconds)")
            #expect(abs((number(after: "level ", in: microphone) ?? 0) + 20) < 0.5)

            // The echo path over the loopback cable: found where the devices' stamps put it (no
            // room in between), at its level (a cable loses nothing), and cancelled.
            let echo = line("echo echo path")
            #expect(echo?.contains("heard by hw:Loopback,1,0") == true, "\(echo ?? "no echo path line")")
            // snd-aloop moves audio a period (20 ms) at a time on a timer, so the stamps hold to
            // within a period; the canceller needs the echo no earlier than its 10 ms lead and
            // well inside its 300 ms tail (measured: -0.6 ms here, 17 ms on a loaded CI machine).
            let offStamps = number(after: "hw:Loopback,1,0 ", in: echo) ?? 99
            #expect(offStamps > -10 && offStamps < 25, "the echo \(offStamps) ms off the stamps")
            #expect(abs(number(after: "echo return loss ", in: echo) ?? 99) < 1)
            #expect((number(after: "takes out ", in: echo) ?? 0) >= 20)

            // The daemon on both devices.
            let statusLine = try #require(line("status:"), "no status from hhd in the VM:\n\(lines.joined(separator: "\n"))")
            let json = String(statusLine[statusLine.range(of: "HH-VM status: ")!.upperBound...])
            let status = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(value(status, "camera.state") as? String == "running")
            #expect(value(status, "camera.format") as? String == "yuyv")
            #expect((value(status, "camera.fps") as? Double ?? 0) > 15)
            #expect(value(status, "microphone.state") as? String == "running")
            #expect(abs((value(status, "microphone.level_dbfs") as? Double ?? 0) + 20) < 0.5)
            #expect(value(status, "microphone.overruns") as? Int == 0)
            #expect(line("hhd exit")?.hasSuffix("exit 0") == true, "\(lines.filter { $0.contains("log:") }.joined(separator: "\n"))")

            // The camera unplugged while streaming (vivid's emulated USB disconnect): reported,
            // retried with backoff, and streaming again when it is back, without a restart.
            let log = lines.filter { $0.contains("HH-VM log:") }.joined(separator: "\n")
            #expect(log.contains("camera unavailable, retrying"), "\(log)")
            #expect(log.components(separatedBy: "camera streaming").count - 1 >= 2, "streaming again after the unplug:\n\(log)")
            let afterLine = try #require(line("status after unplug:"), "\(lines.joined(separator: "\n"))")
            let afterJSON = String(afterLine[afterLine.range(of: "HH-VM status after unplug: ")!.upperBound...])
            let after = try #require(try JSONSerialization.jsonObject(with: Data(afterJSON.utf8)) as? [String: Any])
            #expect(value(after, "camera.state") as? String == "running", "\(afterJSON)")
            #expect((value(after, "camera.frames") as? Int ?? 0) > (value(status, "camera.frames") as? Int ?? 0))
        }
    }
}
