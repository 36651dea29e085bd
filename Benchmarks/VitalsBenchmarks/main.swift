// Cost of the vitals engine, measured in one run beside references of the same run:
// * per frame: skin accumulation (SIMD), face tracking and the background light around the face,
//   against the scalar reference of the accumulation (with the same tracking and background) and
//   a plain memcpy of the same frame, on a simulated patient, on a frame of skin colour
//   throughout (every block does all the work) and on one with skin colour in half the blocks
//   at random (the chroma test's branch unpredictable);
// * per second: the analysis that ends each second (10 s window, long window, flicker cancelling,
//   tracking, respiration, HRV) on the face samples of a hard simulated visit (type V skin) under
//   a lamp and without one (where the camera's changes are fitted out of the colours), and of
//   type VI skin, where the lengthened windows run too, and of a photo under a lamp through
//   MJPEG, where the lamp's harmonics are fitted out in every window, against the engine without its
//   lengthened windows, the engine without PBV tried after POS, and the plain configuration (POS
//   behind a fixed gate) on the same samples.
//
//     swift run -c release vitals-bench [--runs 7] [--frames 300]
//
// Prints Markdown tables for docs/BENCHMARKS.md. Figures are medians over runs; the ratios
// compare measurements of the same run, so they hold on a noisy shared machine.
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import ArgumentParser
import BenchmarkSupport
import Simulation
import VitalsCore

/// The benchmark's command line.
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vitals-bench", abstract: "The vitals engine's cost per frame and per second.")

    @Option(help: "Runs of each measurement; the median is reported.")
    var runs = PositiveCount(7)
    @Option(help: "Frames per run of the per-frame measurements.")
    var frames = PositiveCount(300)
}

let options = Options.parseOrExit()
let runs = options.runs.value
let framesPerRun = options.frames.value

func nanoseconds(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
}


func ms(_ ns: Double) -> String { String(Double(Int(ns / 1000)) / 1000) + " ms" }

struct Row {
    var label: String
    var simd: Double, scalar: Double, copy: Double
    /// The share of the frame's pixels classified as skin.
    var skinShare: Double
}

/// A frame of the simulated patient (the face and the room around it).
func patientFrame(width: Int, height: Int, format: PixelFormat) -> [UInt8] {
    var scenario = Scenario()
    scenario.width = width
    scenario.height = height
    return PatientSimulator(scenario: scenario).frame(0, format: format)
}

/// A frame whose 16-pixel blocks are, with probability `share` each (row by row, at random), a
/// skin colour, the others grey. At share 1 (a face filling the frame, a wall of the same hue)
/// every block does all the work after the chroma test; at 0.5 the chroma test's branch is as
/// hard to predict as it gets.
func skinColouredBlocks(width: Int, height: Int, format: PixelFormat, share: Double) -> [UInt8] {
    var random = RandomSource(seed: 1)
    var rgb = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for block in stride(from: 0, to: width, by: 16) {
            let skin = random.uniform() < share
            for x in block..<min(width, block + 16) {
                let shade = 0.8 + 0.2 * random.uniform()
                let colour: [Double] = skin ? [200, 140, 110] : [128, 128, 128]
                for c in 0..<3 { rgb[(y * width + x) * 3 + c] = UInt8(colour[c] * shade) }
            }
        }
    }
    return FrameEncoder.encode(rgb: rgb, width: width, height: height, as: format, range: .limited)
}

func measure(_ label: String, width: Int, height: Int, format: PixelFormat, frame makeFrame: (Int, Int, PixelFormat) -> [UInt8]) -> Row {
    var frame = makeFrame(width, height, format)
    var copyTarget = frame
    let accumulator = try! SkinAccumulator(geometry: FrameGeometry(width: width, height: height, format: format))
    var grid = accumulator.makeGrid()
    var tracker = FaceTracker()
    var background = BackgroundLight(geometry: FrameGeometry(width: width, height: height, format: format))
    var sink = 0.0

    func run(_ body: (UnsafeRawBufferPointer) -> Void) -> Double {
        var perRun: [Double] = []
        for _ in 0..<runs {
            let total = nanoseconds {
                for i in 0..<framesPerRun {
                    // Change the frame a little each time so no work can be hoisted out of the loop.
                    frame[(i * 7919) % frame.count] &+= 1
                    frame.withUnsafeBytes { body($0) }
                }
            }
            perRun.append(total / Double(framesPerRun))
        }
        return median(perRun)
    }

    func trackAndLight(_ bytes: UnsafeRawBufferPointer) {
        let region = tracker.track(grid)
        sink += region.meanRGB.y + background.read(bytes, outside: region.facePresent ? region.bounds : nil).level
    }
    let simd = run { bytes in
        grid.reset()
        try! accumulator.accumulate(bytes, into: &grid)
        trackAndLight(bytes)
    }
    let scalar = run { bytes in
        grid.reset()
        try! accumulator.accumulateReference(bytes, into: &grid)
        trackAndLight(bytes)
    }
    let copy = run { bytes in
        copyTarget.withUnsafeMutableBytes { _ = memcpy($0.baseAddress!, bytes.baseAddress!, bytes.count) }
        sink += Double(copyTarget[bytes.count / 2])
    }
    grid.reset()
    frame.withUnsafeBytes { try! accumulator.accumulate($0, into: &grid) }
    let skinShare = Double(grid.skinCount.reduce(0, +)) / Double(width * height)
    if sink == 42 { print("") }  // keep the results alive
    return Row(label: "\(width)×\(height) \(format), \(label)", simd: simd, scalar: scalar, copy: copy, skinShare: skinShare)
}

/// The face samples of a hard visit, as the pipeline makes them: skin of Fitzpatrick type
/// `skinType` through the kiosk webcam, with `lamp` under a lamp flickering at 1 Hz (the long
/// window, flicker cancelling and tracking all run), without it in the room's steady light (the
/// scene's changes are fitted out of the colours instead); 320×240 (the analysis does not
/// depend on the frame size). On type VI skin the pulse is too faint for the 10 s and 20 s
/// gates in most seconds, so the lengthened windows run too. `scene` changes the visit further
/// (with an MJPEG camera the frames are the decoded RGB, as `hhd` reads them).
func visitSamples(seconds: Double, lamp: Bool, skinType: Int, scene: (inout Scenario) -> Void = { _ in }) -> [RegionSample] {
    var scenario = Scenario()
    scenario.duration = seconds
    scenario.camera = .kioskWebcam
    scenario.skinTone = .fitzpatrick(skinType)
    if lamp {
        scenario.flickerDepth = 0.05
        scenario.flickerFrequency = 1
    }
    scene(&scenario)
    let format: PixelFormat = scenario.camera?.mjpeg == nil ? .yuyv : .rgb24
    let simulator = PatientSimulator(scenario: scenario)
    let geometry = FrameGeometry(width: scenario.width, height: scenario.height, format: format)
    let accumulator = try! SkinAccumulator(geometry: geometry)
    var background = BackgroundLight(geometry: geometry)
    var grid = accumulator.makeGrid()
    var tracker = FaceTracker()
    return (0..<simulator.frameCount).map { index in
        let frame = simulator.frame(index, format: format)
        grid.reset()
        frame.withUnsafeBytes { try! accumulator.accumulate($0, into: &grid) }
        var region = tracker.track(grid)
        region.backgroundLuma = frame.withUnsafeBytes { background.read($0, outside: region.facePresent ? region.bounds : nil).level }
        return region
    }
}

/// The median time of one second of the analyzer's work (the second's samples added, the last
/// one ending in an estimate), over the seconds after the first `warmUp` (the windows filled).
func analysisPerSecond(_ samples: [RegionSample], configuration: VitalsConfiguration, frameRate: Double, warmUp: Double) -> Double {
    var analyzer = try! VitalsAnalyzer(configuration: configuration)
    var sink = 0
    let perSecond = Int(frameRate)
    let start = Int(warmUp * frameRate)
    for (i, sample) in samples.prefix(start).enumerated() { sink += analyzer.add(sample, at: Double(i) / frameRate).count }
    var seconds: [Double] = []
    for first in stride(from: start, to: samples.count - perSecond + 1, by: perSecond) {
        seconds.append(nanoseconds {
            for i in first..<(first + perSecond) { sink += analyzer.add(samples[i], at: Double(i) / frameRate).count }
        })
    }
    if sink == -1 { print("") }  // keep the results alive
    return median(seconds)
}

let rows = [
    measure("patient", width: 640, height: 480, format: .yuyv, frame: patientFrame),
    measure("skin colour throughout", width: 640, height: 480, format: .yuyv) { skinColouredBlocks(width: $0, height: $1, format: $2, share: 1) },
    measure("skin colour in half the blocks, at random", width: 640, height: 480, format: .yuyv) { skinColouredBlocks(width: $0, height: $1, format: $2, share: 0.5) },
    measure("patient", width: 1280, height: 720, format: .nv12, frame: patientFrame),
    measure("skin colour throughout", width: 1280, height: 720, format: .nv12) { skinColouredBlocks(width: $0, height: $1, format: $2, share: 1) },
    measure("skin colour in half the blocks, at random", width: 1280, height: 720, format: .nv12) { skinColouredBlocks(width: $0, height: $1, format: $2, share: 0.5) },
]
print("Per-frame path (skin accumulation + face tracking + background light), release build, one core; median of \(runs) runs × \(framesPerRun) frames.\n")
print("| frame | skin pixels | SIMD path | scalar reference | memcpy of the frame | SIMD vs scalar | SIMD / memcpy |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows {
    let speedup = Double(Int(r.scalar / r.simd * 10)) / 10
    let ratio = Double(Int(r.simd / r.copy * 10)) / 10
    let share = "\(Int((r.skinShare * 100).rounded()))%"
    print("| \(r.label) | \(share) | \(ms(r.simd)) | \(ms(r.scalar)) | \(ms(r.copy)) | \(speedup)× faster | \(ratio)× |")
}

print("\nPer-second analysis (30 samples added, one estimate), kiosk webcam; median of \(max(runs, 3)) seconds.\n")
print("| scene | engine (default) | without lengthened windows | without PBV after POS | plain (POS, fixed gate) | engine vs plain |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
// Timed once the long window is filled (22 s), and on type VI once the 40 s lengthened window is.
// The photo under a lamp through MJPEG with a steady white balance: the lamp's harmonics stand
// out of its colour, so every window fits them out, refuses its peak and runs the longer windows.
@Sendable func photoUnderALampThroughMJPEG(_ s: inout Scenario) {
    s.subject = .photo
    s.flickerDepth = 0.1
    s.camera?.whiteBalanceHunting = 0
    s.camera?.mjpeg = .kioskWebcam
}
for (label, lamp, skinType, warmUp, scene) in [
    ("type V, 1 Hz lamp, 5% deep", true, 5, 22.0, nil), ("type V, no lamp", false, 5, 22.0, nil),
    ("type VI, no lamp (every window)", false, 6, 42.0, nil),
    ("photo, 1 Hz lamp, MJPEG, steady white balance (lamp's harmonics)", true, 3, 42.0, photoUnderALampThroughMJPEG),
] as [(String, Bool, Int, Double, (@Sendable (inout Scenario) -> Void)?)] {
    let samples = visitSamples(seconds: warmUp + Double(max(runs, 3)), lamp: lamp, skinType: skinType, scene: scene ?? { _ in })
    let engine = analysisPerSecond(samples, configuration: VitalsConfiguration(), frameRate: 30, warmUp: warmUp)
    var unlengthened = VitalsConfiguration()
    unlengthened.lengthenedWindows = []
    let withoutLengthening = analysisPerSecond(samples, configuration: unlengthened, frameRate: 30, warmUp: warmUp)
    var posAlone = VitalsConfiguration()
    posAlone.triesPBVAfterPOS = false
    let withoutPBV = analysisPerSecond(samples, configuration: posAlone, frameRate: 30, warmUp: warmUp)
    let plain = analysisPerSecond(samples, configuration: .plain, frameRate: 30, warmUp: warmUp)
    print("| \(label) | \(ms(engine)) | \(ms(withoutLengthening)) | \(ms(withoutPBV)) | \(ms(plain)) | \(Double(Int(engine / plain * 10)) / 10)× |")
}
