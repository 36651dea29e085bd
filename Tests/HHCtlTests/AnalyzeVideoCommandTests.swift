import Foundation
import MediaFiles
import Simulation
import Testing
import VitalsCore

/// Runs a built executable of this package (it sits beside the test bundle) and captures its output.
func runProduct(_ name: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    // The test bundle is itself an executable in the build folder, beside the products.
    let bundle = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let executable = URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent(name)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

@Suite struct AnalyzeVideoCommandTests {
    /// A 20 s simulated patient at 90 bpm, written as a Y4M file.
    static let video: (path: String, truth: Double) = {
        var s = Scenario()
        s.duration = 20
        s.heartRate = .constant(90)
        s.seed = 7
        let simulator = PatientSimulator(scenario: s)
        let path = NSTemporaryDirectory() + "hhctl-\(UUID().uuidString).y4m"
        let writer = try! Y4MWriter(path: path, header: Y4MHeader(width: s.width, height: s.height, frameRate: (30, 1), fullRange: true))
        for i in 0..<simulator.frameCount { try! writer.write(frame: simulator.frame(i, format: .i420, range: .full)) }
        try! writer.close()
        return (path, 90)
    }()

    @Test func csvHasTheDocumentedShape() throws {
        let result = try runProduct("hhctl", ["analyze", "video", Self.video.path, "--format", "csv"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "t_s,hr_bpm,snr_db")
        #expect(lines.last == "")
        let rows = lines.dropFirst().dropLast().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        // 20 s of video, 10 s windows every second: centres 5, 6, …, 15.
        #expect(rows.count == 11)
        #expect(rows.map { Double($0[0]) } == (5...15).map { Double($0) })
        for row in rows {
            #expect(row.count == 3)
            let rate = try #require(Double(row[1]))
            #expect(abs(rate - Self.video.truth) < 3)
            #expect(Double(row[2]) != nil)
        }
    }

    @Test func jsonAndTableFormats() throws {
        let json = try runProduct("hhctl", ["analyze", "video", Self.video.path, "--format", "json", "--method", "chrom"])
        #expect(json.status == 0)
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(document?["method"] as? String == "chrom")
        #expect((document?["estimates"] as? [[String: Any]])?.count == 11)
        let table = try runProduct("hhctl", ["analyze", "video", Self.video.path])
        #expect(table.status == 0)
        #expect(table.stdout.contains("HR bpm"))
        #expect(table.stdout.contains("11 of 11 seconds with an estimate"))
    }

    @Test func errorsGoToStderrWithANonZeroExit() throws {
        let missing = try runProduct("hhctl", ["analyze", "video", "/nonexistent/file.y4m", "--format", "csv"])
        #expect(missing.status != 0)
        #expect(missing.stdout.isEmpty)
        #expect(missing.stderr.contains("cannot open"))

        let broken = NSTemporaryDirectory() + "hhctl-broken-\(UUID().uuidString).y4m"
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.video.path))
        try data.prefix(50_000).write(to: URL(fileURLWithPath: broken))
        let truncated = try runProduct("hhctl", ["analyze", "video", broken, "--format", "csv"])
        #expect(truncated.status != 0)
        #expect(truncated.stdout.isEmpty)
        #expect(truncated.stderr.contains("truncated"))
        #expect(truncated.stderr.contains("offset 50000"))

        let badMethod = try runProduct("hhctl", ["analyze", "video", Self.video.path, "--method", "magic"])
        #expect(badMethod.status != 0)
        #expect(badMethod.stderr.contains("magic"))
    }

    @Test func simulatorMakesTheReportsHarderScenesAndRefusesBadValues() throws {
        // A photo of type VI skin at 80 lux through the kiosk webcam sending MJPEG, a lamp beside
        // it: no pulse, so every second's true rate is empty.
        let base = NSTemporaryDirectory() + "hhsim-\(UUID().uuidString)"
        let photo = try runProduct("hh-simulate", [
            "--out", base + ".y4m", "--width", "160", "--height", "120", "--duration", "2", "--camera", "kiosk-webcam", "--lux", "80",
            "--skin", "6", "--subject", "photo", "--flicker", "0.1", "--lamp-beside", "--mjpeg-quality", "75",
        ])
        #expect(photo.status == 0, "\(photo.stderr)")
        let truth = try String(contentsOfFile: base + ".truth.csv", encoding: .utf8)
        #expect(truth == "t_s,hr_bpm\n0,\n1,\n2,\n")
        // (`--mjpeg-quality` with the ideal camera, which sends no MJPEG.)
        let refused = [
            ("--skin", "7"), ("--subject", "cat"), ("--camera", "phone"), ("--flicker", "1.5"), ("--lux", "0"), ("--drift", "-1"), ("--mjpeg-quality", "75"),
        ]
        for (option, value) in refused {
            let bad = try runProduct("hh-simulate", ["--out", base + "-bad.y4m", "--duration", "1", option, value])
            #expect(bad.status != 0, "\(option) \(value)")
            #expect(bad.stderr.contains(option), "\(option) \(value): \(bad.stderr)")
            #expect(!FileManager.default.fileExists(atPath: base + "-bad.y4m"))
        }
    }

    @Test func simulatorWritesVideoAndTruth() throws {
        let base = NSTemporaryDirectory() + "hhsim-\(UUID().uuidString)"
        let result = try runProduct("hh-simulate", ["--out", base + ".y4m", "--width", "160", "--height", "120", "--duration", "3", "--hr", "66"])
        #expect(result.status == 0, "\(result.stderr)")
        let truth = try String(contentsOfFile: base + ".truth.csv", encoding: .utf8)
        #expect(truth.hasPrefix("t_s,hr_bpm\n0,66.00\n1,66.00\n"))
        let reader = try Y4MReader(path: base + ".y4m")
        #expect(reader.header.width == 160)
        var frame: [UInt8] = []
        var frames = 0
        while try reader.readFrame(into: &frame) { frames += 1 }
        #expect(frames == 90)
    }
}
