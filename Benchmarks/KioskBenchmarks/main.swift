// kiosk-bench: what the kiosk daemon costs, against references measured in the same run.
//
//   kiosk-bench [--runs N] [--seconds S]        the whole benchmark (see docs/BENCHMARKS.md)
//   kiosk-bench --paced-read VIDEO.y4m AUDIO.wav  (internal) the reference: read both files
//                                                 at their real-time pace and do nothing else
import ArgumentParser
import BenchmarkSupport
import EdgeStore
import Foundation
import Kiosk
import KioskControl
import MediaFiles
import Simulation
import VitalsCore

#if canImport(Glibc)
import Glibc
#endif

/// The benchmark's command line.
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kiosk-bench", abstract: "What the kiosk daemon costs, against references measured in the same run.")

    @Option(help: "Runs of each measurement; the median is reported.")
    var runs = PositiveCount(3)
    @Option(help: "Seconds of each measured window.")
    var seconds = PositiveCount(40)
    /// The reference process's two files (run by the benchmark itself).
    @Option(parsing: .upToNextOption, help: .hidden)
    var pacedRead: [String] = []

    func validate() throws {
        guard pacedRead.isEmpty || pacedRead.count == 2 else { throw ValidationError("--paced-read takes VIDEO.y4m AUDIO.wav") }
    }
}

let options = Options.parseOrExit()

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}


// MARK: The reference process

/// Reads a Y4M video and a WAV file side by side at the video's real-time pace and does nothing
/// else with them: the least any capture process does.
func readPaced(videoPath: String, audioPath: String) throws {
    let video = try Y4MReader(path: videoPath)
    let audio = try WAVReader(path: audioPath)
    let start = now()
    var frame: [UInt8] = []
    var samples: [Float] = []
    var audioSeconds = 0.0
    let period = Double(video.header.frameRate.denominator) / Double(video.header.frameRate.numerator)
    while try video.readFrame(into: &frame) {
        let due = start + Double(video.framesRead) * period
        while audioSeconds < Double(video.framesRead) * period {
            let got = try audio.read(maximumFrames: 320, into: &samples)
            if got == 0 { break }
            audioSeconds += Double(got) / Double(audio.format.sampleRate)
        }
        let wait = due - now()
        if wait > 0 { usleep(UInt32(wait * 1e6)) }
    }
}

if options.pacedRead.count == 2 {
    do {
        try readPaced(videoPath: options.pacedRead[0], audioPath: options.pacedRead[1])
    } catch {
        Options.exit(withError: error)
    }
    exit(0)
}

// MARK: Measuring a process

struct ProcessCost {
    var cpuPercent: Double
    var peakResidentMB: Double
}

/// CPU time (user + system) of a process, seconds.
func cpuSeconds(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Peak resident memory of a process, MB.
func peakResidentMB(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = Double(line.split(separator: " ")[1]) else { return nil }
    return kilobytes / 1024
}

/// Starts `executable`, skips `warmUp` seconds, measures CPU over `window` seconds and the
/// peak resident memory, then stops it.
func measure(_ executable: String, _ arguments: [String], warmUp: Double, window: Double, during: ((Int32) -> Void)? = nil) throws -> ProcessCost {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let pid = process.processIdentifier
    Thread.sleep(forTimeInterval: warmUp)
    let cpu0 = cpuSeconds(pid) ?? 0
    let wall0 = now()
    during?(pid)
    let remaining = window - (now() - wall0)
    if remaining > 0 { Thread.sleep(forTimeInterval: remaining) }
    let cpu1 = cpuSeconds(pid) ?? cpu0
    let wall1 = now()
    let peak = peakResidentMB(pid) ?? .nan
    kill(pid, SIGTERM)
    process.waitUntilExit()
    return ProcessCost(cpuPercent: 100 * (cpu1 - cpu0) / (wall1 - wall0), peakResidentMB: peak)
}

// MARK: Inputs

let runs = options.runs.value
let seconds = options.seconds.value
let work = NSTemporaryDirectory() + "kiosk-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: work) }
let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path

var scenario = Scenario()
scenario.width = 640
scenario.height = 480
scenario.duration = Double(seconds)
scenario.heartRate = .constant(75)
scenario.talking = true
let simulator = PatientSimulator(scenario: scenario)
let videoPath = work + "/patient.y4m"
let writer = try Y4MWriter(path: videoPath, header: Y4MHeader(width: 640, height: 480, frameRate: (30, 1), fullRange: true))
// The video repeats a 4 s loop of distinct frames (writing 40 s of unique frames takes long).
let loop = (0..<120).map { simulator.frame($0, format: .i420, range: .full) }
for index in 0..<(30 * seconds) { try writer.write(frame: loop[index % loop.count]) }
try writer.close()
let audioPath = work + "/room.wav"
let audioWriter = try WAVWriter(path: audioPath, format: WAVFormat(sampleRate: 16_000, channelCount: 1, sampleFormat: .signed16))
var random = SystemRandomNumberGenerator()
let audio: [Float] = (0..<(16_000 * seconds)).map { index in
    let t = Double(index) / 16_000
    let voiced = Int(t / 1.5) % 2 == 0
    return Float((voiced ? 0.2 * sin(2 * .pi * 180 * t) * (0.6 + 0.4 * sin(2 * .pi * 4 * t)) : 0) + 0.01 * Double.random(in: -1...1, using: &random))
}
try audioWriter.write(interleaved: audio)
try audioWriter.close()

print("kiosk-bench: \(runs) runs, \(seconds) s of 640x480 I420 at 30 fps + 16 kHz mono, paced in real time")

// MARK: 1. hhd in real time against the paced reader

var hhdCosts: [ProcessCost] = []
var referenceCosts: [ProcessCost] = []
var statusProcess: [Double] = []
var statusSocket: [Double] = []
var spawnTrue: [Double] = []
let window = Double(seconds) - 10
for run in 0..<runs {
    let state = work + "/state-\(run)"
    let socket = state + "/hhd.sock"
    hhdCosts.append(try measure(
        binaries + "/hhd", ["--state-dir", state, "--video", videoPath, "--audio", audioPath, "--pace", "realtime"],
        warmUp: 5, window: window
    ) { _ in
        guard run == 0 else { return }
        // hhctl status while the daemon works: whole command, and the socket round trip alone.
        for _ in 0..<15 {
            let start = now()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binaries + "/hhctl")
            process.arguments = ["status", "--socket", socket]
            process.standardOutput = FileHandle.nullDevice
            try? process.run()
            process.waitUntilExit()
            statusProcess.append(now() - start)
            let trueStart = now()
            let reference = Process()
            reference.executableURL = URL(fileURLWithPath: "/bin/true")
            try? reference.run()
            reference.waitUntilExit()
            spawnTrue.append(now() - trueStart)
            let socketStart = now()
            _ = try? ControlClient(path: socket).send(.init(command: "status"))
            statusSocket.append(now() - socketStart)
        }
    })
    referenceCosts.append(try measure(CommandLine.arguments[0], ["--paced-read", videoPath, audioPath], warmUp: 5, window: window))
}

// MARK: 2. SQLite: per-second measurements committed as in production

let store = try EdgeStore(path: work + "/insert.sqlite")
var insertRates: [Double] = []
var syncRates: [Double] = []
for run in 0..<runs {
    let session = "bench-\(run)"
    try store.openSession(id: session, startedAt: Date())
    let count = 300
    var start = now()
    for second in 0..<count {
        try store.record(VitalsSecond(t: Double(second), bpm: 72, snrDb: 6, respirationBpm: 15), session: session)
    }
    insertRates.append(Double(count) / (now() - start))
    // Reference: the disk's own durable-write rate, 64 bytes + fdatasync each, same folder.
    let descriptor = open(work + "/sync-\(run)", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let record = [UInt8](repeating: 7, count: 64)
    start = now()
    for _ in 0..<count {
        _ = write(descriptor, record, record.count)
        _ = fdatasync(descriptor)
    }
    syncRates.append(Double(count) / (now() - start))
    close(descriptor)
}

// MARK: Report

let hhdCPU = median(hhdCosts.map(\.cpuPercent)), referenceCPU = median(referenceCosts.map(\.cpuPercent))
let hhdRSS = median(hhdCosts.map(\.peakResidentMB)), referenceRSS = median(referenceCosts.map(\.peakResidentMB))
print("")
print("| measure | hhd | reference | ratio |")
print("| --- | ---: | ---: | ---: |")
print(String(format: "| CPU, %% of one core (median of %d) | %.2f %% | %.2f %% (paced file read) | %.1f× |", runs, hhdCPU, referenceCPU, hhdCPU / referenceCPU))
print(String(format: "| peak resident memory (VmHWM) | %.1f MB | %.1f MB (paced file read) | %.1f× |", hhdRSS, referenceRSS, hhdRSS / referenceRSS))
print(String(format: "| `hhctl status`, whole command (median of %d) | %.1f ms | %.1f ms (spawn /bin/true) | %.1f× |", statusProcess.count, 1000 * median(statusProcess), 1000 * median(spawnTrue), median(statusProcess) / median(spawnTrue)))
print(String(format: "| status request over the socket alone | %.2f ms | | |", 1000 * median(statusSocket)))
print(String(format: "| per-second measurements committed (WAL, synchronous=FULL), per s | %.0f | %.0f (64 B + fdatasync) | %.2f× |", median(insertRates), median(syncRates), median(insertRates) / median(syncRates)))
print("")
print("runs: hhd CPU " + hhdCosts.map { String(format: "%.2f", $0.cpuPercent) }.joined(separator: ", ")
      + "; reference CPU " + referenceCosts.map { String(format: "%.2f", $0.cpuPercent) }.joined(separator: ", ")
      + "; hhd RSS " + hhdCosts.map { String(format: "%.1f", $0.peakResidentMB) }.joined(separator: ", ") + " MB")
print("      inserts/s " + insertRates.map { String(format: "%.0f", $0) }.joined(separator: ", ")
      + "; fdatasync/s " + syncRates.map { String(format: "%.0f", $0) }.joined(separator: ", "))
