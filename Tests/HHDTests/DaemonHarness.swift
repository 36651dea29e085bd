import EdgeStore
import Foundation
import HHProtocol
import MediaFiles
import Testing
import Simulation
import VitalsCore

#if canImport(Glibc)
import Glibc
#endif

/// The folder of the built products (the test bundle sits beside them).
let productsDirectory: URL = {
    let bundle = try! FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    return URL(fileURLWithPath: bundle).deletingLastPathComponent()
}()

/// A fresh temporary directory.
func temporaryDirectory(_ label: String) -> String {
    let path = NSTemporaryDirectory() + "hhd-\(label)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A simulated visit pattern: a patient at 320x240, 15 fps, present in `presence` stretches.
struct VisitVideo {
    /// The stretches with somebody in view, seconds.
    static let presence: [ClosedRange<Double>] = [0...15, 25...40, 50...65, 75...90]
    static let heartRate = 72.0

    /// Written once per test run (about 150 MB in the temporary folder).
    static let path: String = {
        var scenario = Scenario()
        scenario.width = 320
        scenario.height = 240
        scenario.frameRate = 15
        scenario.duration = 90
        scenario.heartRate = .constant(heartRate)
        scenario.seed = 11
        scenario.absences = [15...25, 40...50, 65...75]
        let simulator = PatientSimulator(scenario: scenario)
        let path = NSTemporaryDirectory() + "hhd-visits-\(UUID().uuidString.prefix(8)).y4m"
        let writer = try! Y4MWriter(path: path, header: Y4MHeader(width: scenario.width, height: scenario.height, frameRate: (15, 1), fullRange: true))
        for index in 0..<simulator.frameCount { try! writer.write(frame: simulator.frame(index, format: .i420, range: .full)) }
        try! writer.close()
        return path
    }()
}

/// A running `hhd` (or one that ran), with its log.
final class DaemonProcess {
    let process = Process()
    let logPath: String

    /// Starts `hhd` with `arguments` (and `environment` added to this process's), through
    /// `launcher` if given (e.g. `prlimit --nofile=…`, which executes it in the same process).
    init(_ arguments: [String], environment: [String: String] = [:], log: String, launcher: [String] = []) throws {
        logPath = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let daemon = productsDirectory.appendingPathComponent("hhd")
        process.executableURL = launcher.first.map { URL(fileURLWithPath: $0) } ?? daemon
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [daemon.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits for the process to end; `nil` if it did not within `timeout` seconds. It sleeps
    /// rather than blocks, so a long daemon run does not hold one of the test process's two
    /// cooperative threads (the other suites, some of them timed, run beside it).
    func wait(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// ``wait(timeout:)`` for synchronous code (holds its thread: for short waits only).
    func waitBlocking(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return nil }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return process.terminationStatus
    }

    /// Sends `signal` (SIGKILL, SIGTERM).
    func send(_ signal: Int32) { kill(pid, signal) }

    /// Kills the process if it still runs.
    func ensureStopped() {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs a product to its end and returns its status and output.
func runProduct(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = productsDirectory.appendingPathComponent(name)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// A configuration for tests: short absence timeout, quick retries, and the device token
/// `token` in a file beside it.
func writeTestConfiguration(in directory: String, token: String = "test-token", speaker: String = "", extra: String = "") -> String {
    let path = directory + "/hhd.toml"
    try! token.write(toFile: directory + "/device-token", atomically: true, encoding: .utf8)
    let text = """
        [speaker]
        device = "\(speaker)"
        apology = "\(repositoryRoot.path)/share/apology.wav"
        [session]
        absence_timeout_s = 7
        [relay]
        token_file = "\(directory)/device-token"
        retry_initial_s = 0.2
        retry_max_s = 1
        drain_timeout_s = 60
        timeout_s = 5
        \(extra)
        """
    try! text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// The daemon's integration tests, one at a time: they start real processes, some paced in
/// real time, and a VM; running them side by side would only make them compete for 2 cores.
@Suite(.serialized) enum DaemonTests {}

/// What a kiosk's store says it delivered.
enum EdgeStoreProbe {
    static func delivered(stateDirectory: String) throws -> [String] {
        try EdgeStore(path: stateDirectory + "/hhd.sqlite").recentSessions(limit: 1000).filter { $0.state == .delivered }.map(\.id)
    }
}

/// A visit recorded in real time and cut by `kill -9` once `killWhen` holds for the store it
/// left; `beforeRecovery` looks at that store; then a fresh `hhd` with no input recovers the
/// open session and delivers it to a test relay.
struct InterruptedVisit {
    /// What the relay stored, in order.
    var documents: [SessionDocument]
    /// The recovering daemon's log.
    var recoveryLog: String

    init(_ label: String, killWhen: @escaping (EdgeStore) throws -> Bool, beforeRecovery: (EdgeStore) throws -> Void = { _ in }) throws {
        let directory = temporaryDirectory(label)
        let configuration = writeTestConfiguration(in: directory)
        let state = directory + "/state"
        let recording = try DaemonProcess(
            ["--config", configuration, "--state-dir", state, "--video", VisitVideo.path, "--audio", "", "--pace", "realtime"],
            log: directory + "/record.log")
        defer { recording.ensureStopped() }
        #expect(eventually(timeout: 25) { (try? EdgeStore(path: state + "/hhd.sqlite")).map { (try? killWhen($0)) ?? false } ?? false }, "\(recording.log)")
        recording.send(SIGKILL)
        _ = recording.waitBlocking(timeout: 10)
        try beforeRecovery(try EdgeStore(path: state + "/hhd.sqlite"))

        let relay = try TestRelay()
        let delivery = try DaemonProcess(
            ["--config", configuration, "--state-dir", state, "--video", "", "--audio", "", "--relay", relay.url, "--pace", "fast"],
            log: directory + "/deliver.log")
        #expect(delivery.waitBlocking(timeout: 30) == 0, "\(delivery.log)")
        recoveryLog = delivery.log
        documents = try relay.storedOrder.map { try WireJSON.decoder().decode(SessionDocument.self, from: relay.stored[$0]!) }
    }
}
