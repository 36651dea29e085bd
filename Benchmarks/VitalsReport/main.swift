import ArgumentParser
import BenchmarkSupport
import Dispatch
import Foundation
import Simulation
import VitalsCore

// vitals-report: the vitals engine's coverage, error and false reports on rendered video through
// the kiosk-webcam camera model, per skin type, light level and scene, beside the engine without
// its lengthened windows (the 20 s long window only), the engine with its earlier long window
// (POS with the colour check, not lengthened) and plain PBV, POS, CHROM and GREEN (each behind the same 0 dB SNR
// gate) on the same frames.
//
// The tuning set (seeds 1…N) is what the engine's settings were chosen on; the held-out set
// (seeds 1001…) is never used for tuning: other heart rates (48–140 bpm), glasses and a fringe on
// some patients, other textures, noise and hunting phases. Its table is reported on its own.

/// The report's command line.
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitals-report",
        abstract: "The vitals engine's coverage, error and false reports per skin type, light and scene.")

    @Option(help: "Seeds per row and set.")
    var seeds = PositiveCount(3)
    @Option(help: "Seconds of video per scene (12…600).")
    var duration = 30.0
    /// Which seeds: the tuning set, the held-out set, or both.
    enum SetChoice: String, ExpressibleByArgument, CaseIterable { case tuning, heldOut = "held-out", both }

    @Option(name: .customLong("set"), help: "Which set of seeds.")
    var setChoice = SetChoice.both
    @Option(help: "Only the rows whose group and name contain this text.")
    var only: String?
    /// Whether each seed's heart rate and each method's estimates, window by window, are
    /// printed to standard error as each row is done (to see which patients a cell's coverage
    /// lost), leaving the tables on standard output whole.
    @Flag(help: "Print each seed's heart rate and every method's estimates to standard error.")
    var perSeed = false
    @Option(help: ArgumentHelp("Send the kiosk-webcam scenes' frames as MJPEG of this JPEG quality (1–100), decoded as the kiosk does.", valueName: "quality"))
    var mjpeg: Int?
    @Option(help: ArgumentHelp("Write each rendered scene's region trace here.", valueName: "dir"))
    var saveTraces: String?
    @Option(help: ArgumentHelp("Read the region traces from here instead of rendering.", valueName: "dir"))
    var fromTraces: String?

    /// The sets to report, in order.
    var sets: [String] { setChoice == .both ? [SetChoice.tuning.rawValue, SetChoice.heldOut.rawValue] : [setChoice.rawValue] }

    /// Where each rendered scene's region trace is written (`--save-traces`), or read from
    /// instead of rendering (`--from-traces`): the analyzer's whole input, so a change to the
    /// analyzer is measured on the report's scenes in seconds instead of the better part of an hour.
    var traces: (directory: String, reading: Bool)? {
        if let directory = fromTraces { return (directory, true) }
        return saveTraces.map { ($0, false) }
    }

    func validate() throws {
        guard (12...600).contains(duration) else { throw ValidationError("--duration needs 12…600 seconds") }
        guard saveTraces == nil || fromTraces == nil else { throw ValidationError("give one of --save-traces and --from-traces") }
        guard mjpeg.map({ (1...100).contains($0) }) ?? true else { throw ValidationError("--mjpeg needs a JPEG quality of 1–100") }
    }
}

/// A row of the report: a named scene, made for each seed.
struct Row: Sendable {
    var group: String
    var name: String
    var make: @Sendable (inout Scenario) -> Void
}

let ordinaryLux = 400.0, lowLux = 80.0

let rows: [Row] = {
    var rows: [Row] = []
    for light in [("ordinary light", ordinaryLux), ("low light", lowLux)] {
        for type in 1...6 {
            let roman = ["I", "II", "III", "IV", "V", "VI"][type - 1]
            rows.append(Row(group: "Skin type, \(light.0) (\(Int(light.1)) lux)", name: "type \(roman)") {
                $0.skinTone = .fitzpatrick(type)
                $0.lux = light.1
            })
        }
    }
    // A camera that does not raise its exposure in a dim room (the idealised one: light level ×
    // reflectance, noise growing as the light falls): the face's colours sink towards the skin
    // box's floor and its grey edge, where the classic box loses the face.
    for (type, level) in [(3, 0.5), (3, 0.3), (6, 1.0), (6, 0.5)] {
        rows.append(Row(group: "Camera without auto-exposure (light level)", name: "type \(type == 3 ? "III" : "VI"), \(level)") {
            $0.camera = nil
            $0.skinTone = .fitzpatrick(type)
            $0.lightLevel = level
        })
    }
    // The lamp lights the wall too, or (beside the patient, the wall in steady daylight) only the
    // patient: then the scene around the face shows no flicker, and only the face can tell the
    // lamp (as on a dark or plain backdrop).
    for (group, wallLit) in [("Lamp flicker (10% deep)", true), ("Lamp beside the patient, wall steady (10% deep)", false)] {
        for hz in [1.0, 2.0] {
            for type in [2, 5] {
                rows.append(Row(group: group, name: "\(Int(hz)) Hz, type \(type == 2 ? "II" : "V")") {
                    $0.skinTone = .fitzpatrick(type)
                    $0.flickerDepth = 0.1
                    $0.flickerFrequency = hz
                    $0.lampLightsBackground = wallLit
                })
            }
        }
    }
    // The same lamp with the camera's white balance held still: through MJPEG the lamp's
    // harmonics then stand out of a flat surface's colour (docs/VITALS.md, "MJPEG"), and what
    // takes them out must leave these patients' pulses.
    for hz in [1.0, 2.0] {
        for type in [2, 5] {
            rows.append(Row(group: "Lamp flicker, steady white balance (10% deep)", name: "\(Int(hz)) Hz, type \(type == 2 ? "II" : "V")") {
                $0.skinTone = .fitzpatrick(type)
                $0.flickerDepth = 0.1
                $0.flickerFrequency = hz
                $0.camera?.whiteBalanceHunting = 0
            })
        }
    }
    rows.append(Row(group: "Patients (type III)", name: "still") { $0.skinTone = .fitzpatrick(3) })
    rows.append(Row(group: "Patients (type III)", name: "still, steady white balance") {
        $0.skinTone = .fitzpatrick(3)
        $0.camera?.whiteBalanceHunting = 0
    })
    rows.append(Row(group: "Patients (type III)", name: "head motion") {
        $0.skinTone = .fitzpatrick(3)
        $0.swayAmplitude = 20
        $0.turnAmplitude = 0.3
        $0.leanAmplitude = 0.1
    })
    rows.append(Row(group: "Patients (type III)", name: "talking") {
        $0.skinTone = .fitzpatrick(3)
        $0.talking = true
    })
    rows.append(Row(group: "Patients (type III)", name: "ramp 62→118 bpm") {
        $0.skinTone = .fitzpatrick(3)
        $0.heartRate = .ramp(from: 62, to: 118, start: 0, end: $0.duration)
    })
    rows.append(Row(group: "Patients (type III)", name: "strong HRV (80 ms)") {
        $0.skinTone = .fitzpatrick(3)
        $0.beatVariability = 80
    })
    rows.append(Row(group: "Patients (type III)", name: "55 bpm") {
        $0.skinTone = .fitzpatrick(3)
        $0.heartRate = .constant(55)
    })
    for flicker in [0.0, 1.0, 2.0] {
        let suffix = flicker == 0 ? "" : ", \(Int(flicker)) Hz flicker"
        @Sendable func lamp(_ s: inout Scenario) {
            if flicker > 0 {
                s.flickerDepth = 0.1
                s.flickerFrequency = flicker
            }
        }
        rows.append(Row(group: "No pulse", name: "photo\(suffix)") {
            $0.subject = .photo
            lamp(&$0)
        })
        rows.append(Row(group: "No pulse", name: "mannequin\(suffix)") {
            $0.subject = .mannequin
            lamp(&$0)
        })
        rows.append(Row(group: "No pulse", name: "furniture\(suffix)") {
            $0.absences = [0...10_000]
            $0.furniture = true
            lamp(&$0)
        })
        rows.append(Row(group: "No pulse", name: "empty room\(suffix)") {
            $0.absences = [0...10_000]
            lamp(&$0)
        })
    }
    for (subject, hz) in [(Subject.photo, 1.0), (.mannequin, 2.0)] {
        rows.append(Row(group: "No pulse", name: "\(subject.rawValue), lamp beside it at \(Int(hz)) Hz, wall steady") {
            $0.subject = subject
            $0.flickerDepth = 0.1
            $0.flickerFrequency = hz
            $0.lampLightsBackground = false
        })
    }
    // A camera whose white balance holds still (locked, or settled, as many do), under a lamp:
    // through MJPEG a flat surface's chroma then stays on its quantiser's step while the lamp
    // moves its brightness, which the other rows' hunting white balance hides (docs/VITALS.md,
    // "MJPEG").
    for (subject, hz, beside) in [(Subject.photo, 1.0, false), (.photo, 2.0, false), (.photo, 1.0, true), (.mannequin, 2.0, false)] {
        let lamp = beside ? "lamp beside it at \(Int(hz)) Hz, wall steady" : "\(Int(hz)) Hz flicker"
        rows.append(Row(group: "No pulse", name: "\(subject.rawValue), \(lamp), steady white balance") {
            $0.subject = subject
            $0.flickerDepth = 0.1
            $0.flickerFrequency = hz
            $0.lampLightsBackground = !beside
            $0.camera?.whiteBalanceHunting = 0
        })
    }
    for hz in [1.0, 2.0] {
        rows.append(Row(group: "No pulse", name: "furniture, \(Int(hz)) Hz flicker, steady white balance") {
            $0.absences = [0...10_000]
            $0.furniture = true
            $0.flickerDepth = 0.1
            $0.flickerFrequency = hz
            $0.camera?.whiteBalanceHunting = 0
        })
    }
    // The darkest skin in dim light: the noisiest face the engine sees, printed or moulded.
    for subject in [Subject.photo, .mannequin] {
        rows.append(Row(group: "No pulse", name: "\(subject.rawValue), type VI, \(Int(lowLux)) lux") {
            $0.subject = subject
            $0.skinTone = .fitzpatrick(6)
            $0.lux = lowLux
        })
    }
    // The skin box widened for a dim face must not find one in a dim room's noise or on a print.
    rows.append(Row(group: "No pulse", name: "empty room, no auto-exposure, 0.3") {
        $0.camera = nil
        $0.absences = [0...10_000]
        $0.lightLevel = 0.3
    })
    rows.append(Row(group: "No pulse", name: "photo, type VI, no auto-exposure, 0.5") {
        $0.camera = nil
        $0.subject = .photo
        $0.skinTone = .fitzpatrick(6)
        $0.lightLevel = 0.5
    })
    return rows
}()

/// The methods compared: the engine as configured by default, and the plain methods.
let methods: [(name: String, configuration: VitalsConfiguration)] = {
    var posLongWindow = VitalsConfiguration()
    posLongWindow.longWindowUsesPBV = false
    posLongWindow.lengthenedWindows = []
    var unlengthened = VitalsConfiguration()
    unlengthened.lengthenedWindows = []
    var list: [(String, VitalsConfiguration)] = [("engine", VitalsConfiguration()), ("20 s long", unlengthened), ("POS long", posLongWindow)]
    for method in [PulseMethod.pbv, .pos, .chrom, .green] {
        var c = VitalsConfiguration.plain
        c.method = method
        list.append((method.rawValue.uppercased(), c))
    }
    return list
}()

func scenario(row: Row, seed: UInt64, heldOut: Bool, duration: Double, mjpeg: Int?) -> Scenario {
    var s = Scenario.kioskWebcam(seed: seed, duration: duration)
    var random = RandomSource(seed: seed &+ 7000)
    let rates = heldOut ? 48.0...140.0 : 55.0...110.0
    s.heartRate = .constant(rates.lowerBound + random.uniform() * (rates.upperBound - rates.lowerBound))
    s.breathingRate = 10 + random.uniform() * 10
    if heldOut {
        s.glasses = random.uniform() < 0.4
        s.fringe = random.uniform() < 0.4
        s.specular = Float(0.05 + 0.15 * random.uniform())
    }
    row.make(&s)
    if let mjpeg, s.camera != nil { s.camera?.mjpeg = MJPEGCompression(quality: mjpeg) }
    return s
}

struct Cell {
    var pulseWindows = 0, reported = 0, noPulseWindows = 0, falseReports = 0
    var errorSum = 0.0
    var windows = 0, noFace = 0

    mutating func add(_ score: PipelineScore) {
        pulseWindows += score.pulseWindows
        reported += score.reported
        noPulseWindows += score.noPulseWindows
        falseReports += score.falseReports
        windows += score.estimates.count
        noFace += score.estimates.filter { $0.status == .noFace }.count
        if score.reported > 0 { errorSum += score.meanAbsoluteError * Double(score.reported) }
    }

    var text: String {
        if pulseWindows > 0 {
            let coverage = 100 * Double(reported) / Double(pulseWindows)
            let mae = reported > 0 ? String(format: "%.2f", errorSum / Double(reported)) : "–"
            let faceless = noFace > 0 ? String(format: " (no face %.0f%%)", 100 * Double(noFace) / Double(max(1, windows))) : ""
            return String(format: "%.0f%%", coverage) + " · " + mae + faceless
        }
        return String(format: "%.1f%%", 100 * Double(falseReports) / Double(max(1, noPulseWindows)))
    }
}

/// The scores of one row's seeds, filled in from several threads; a seed whose trace could not
/// be had keeps the reason.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var scores: [Result<[PipelineScore], any Error>]
    init(count: Int) { scores = Array(repeating: .success([]), count: count) }
    func set(_ index: Int, _ value: Result<[PipelineScore], any Error>) { lock.withLock { scores[index] = value } }
    var all: [Result<[PipelineScore], any Error>] { lock.withLock { scores } }
}

/// A trace's file: `DIR/tuning/skin-type-ordinary-light-400-lux-type-v-seed-1.csv`, or
/// `DIR/tuning-mjpeg-75/…` for frames sent as MJPEG of quality 75 (a trace of other frames is
/// another trace).
func traceFile(_ directory: String, set: String, mjpeg: Int?, row: Row, seed: UInt64) -> String {
    let words = "\(row.group) \(row.name)".lowercased().split { !($0.isLetter || $0.isNumber) }
    let frames = mjpeg.map { "\(set)-mjpeg-\($0)" } ?? set
    return "\(directory)/\(frames)/\(words.joined(separator: "-"))-seed-\(seed).csv"
}

/// A trace file that does not fit the scene it is named for.
struct TraceMismatch: Error, CustomStringConvertible {
    var description: String
}

/// The region trace of `scene`: rendered (and saved, with `--save-traces`), or read back.
func trace(of scene: Scenario, file: String?, reading: Bool) throws -> RegionTrace {
    if let file, reading {
        let trace = try RegionTrace(csv: String(contentsOfFile: file, encoding: .utf8))
        let frames = scene.frameCount
        guard trace.times.count == frames else {
            throw TraceMismatch(description: "\(file) has \(trace.times.count) frames, the scene \(frames): saved with another --duration?")
        }
        return trace
    }
    // An MJPEG camera's frames reach the kiosk's pipeline as the decoder's RGB.
    let trace = try PipelineEvaluation.regionTrace(of: scene, format: scene.camera?.mjpeg == nil ? .i420 : .rgb24)
    if let file {
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try trace.csv.write(toFile: file, atomically: true, encoding: .utf8)
    }
    return trace
}

/// Prints a line at once (each set's table is printed as soon as the set is done).
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let options = Options.parseOrExit()
let selected = rows.filter { row in options.only.map { "\(row.group) \(row.name)".contains($0) } ?? true }
let compression = options.mjpeg.map { ", its frames sent as MJPEG at quality \($0)" } ?? ""
emit("vitals-report: \(options.seeds.value) seeds × \(Int(options.duration)) s at 640×480, kiosk-webcam camera model\(compression) unless a row says otherwise")
emit("cells: coverage of pulse seconds · MAE in bpm; for scenes without a pulse, the share of seconds with a heart rate reported")
for set in options.sets {
    let heldOut = set == "held-out"
    let seeds = (0..<UInt64(options.seeds.value)).map { (heldOut ? 1001 : 1) + $0 }
    // Every row's seeds at once, so both cores stay busy to the end of the set.
    let jobs = selected.flatMap { row in seeds.map { (row: row, seed: $0, scene: scenario(row: row, seed: $0, heldOut: heldOut, duration: options.duration, mjpeg: options.mjpeg)) } }
    let results = Results(count: jobs.count)
    DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
        let job = jobs[k]
        results.set(
            k,
            Result {
                let file = options.traces.map { traceFile($0.directory, set: set, mjpeg: options.mjpeg, row: job.row, seed: job.seed) }
                let recorded = try trace(of: job.scene, file: file, reading: options.traces?.reading == true)
                return try methods.map { try PipelineEvaluation.score(recorded, of: job.scene, configuration: $0.configuration) }
            })
    }
    let scores = results.all.enumerated().map { k, result in
        do {
            return try result.get()
        } catch {
            FileHandle.standardError.write(Data("vitals-report: \(jobs[k].row.group), \(jobs[k].row.name), seed \(jobs[k].seed): \(error)\n".utf8))
            exit(1)
        }
    }
    emit("\n### \(heldOut ? "Held-out set (seeds \(seeds.first!)…, never tuned on)" : "Tuning set (seeds \(seeds.first!)…)")\n")
    emit("| scene | " + methods.map(\.name).joined(separator: " | ") + " |")
    emit("|---|" + methods.map { _ in "---" }.joined(separator: "|") + "|")
    var group = ""
    var cells = [Cell](repeating: Cell(), count: methods.count)
    for (job, scores) in zip(jobs, scores) {
        if options.perSeed {
            let rate = String(format: "%.1f", job.scene.heartRate.bpm(at: 0))
            var lines = ["\(job.row.group), \(job.row.name), seed \(job.seed) (a patient's heart rate at the start: \(rate) bpm)"]
            lines += scores.enumerated().map { m, score in "  \(methods[m].name): \(score)" }
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        for (m, score) in scores.enumerated() { cells[m].add(score) }
        guard job.seed == seeds.last else { continue }
        if job.row.group != group {
            group = job.row.group
            emit("| **\(group)** |" + methods.map { _ in " " }.joined(separator: "|") + "|")
        }
        emit("| \(job.row.name) | " + cells.map(\.text).joined(separator: " | ") + " |")
        cells = [Cell](repeating: Cell(), count: methods.count)
    }
}
