// Per-frame cost of the vitals hot path: skin accumulation (SIMD) plus face tracking, against
// the scalar reference and a plain memcpy of the same frame, all measured in the same run.
//
//     swift run -c release vitals-bench [--runs 7] [--frames 300]
//
// Prints a Markdown table for docs/BENCHMARKS.md. Figures are medians over runs; the ratios
// compare measurements of the same run, so they hold on a noisy shared machine.
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Simulation
import VitalsCore

func option(_ name: String, default value: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return value }
    return v
}

let runs = option("--runs", default: 7)
let framesPerRun = option("--frames", default: 300)

func nanoseconds(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

struct Row {
    var label: String
    var simd: Double, scalar: Double, copy: Double
}

func measure(width: Int, height: Int, format: PixelFormat) -> Row {
    var scenario = Scenario()
    scenario.width = width
    scenario.height = height
    let simulator = PatientSimulator(scenario: scenario)
    var frame = simulator.frame(0, format: format)
    var copyTarget = frame
    let accumulator = try! SkinAccumulator(geometry: FrameGeometry(width: width, height: height, format: format))
    var grid = accumulator.makeGrid()
    var tracker = FaceTracker()
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

    let simd = run { bytes in
        grid.reset()
        try! accumulator.accumulate(bytes, into: &grid)
        sink += tracker.track(grid).meanRGB.y
    }
    let scalar = run { bytes in
        grid.reset()
        try! accumulator.accumulateReference(bytes, into: &grid)
        sink += tracker.track(grid).meanRGB.y
    }
    let copy = run { bytes in
        copyTarget.withUnsafeMutableBytes { _ = memcpy($0.baseAddress!, bytes.baseAddress!, bytes.count) }
        sink += Double(copyTarget[bytes.count / 2])
    }
    if sink == 42 { print("") }  // keep the results alive
    return Row(label: "\(width)×\(height) \(format)", simd: simd, scalar: scalar, copy: copy)
}

let rows = [
    measure(width: 640, height: 480, format: .yuyv),
    measure(width: 1280, height: 720, format: .nv12),
]
print("Per-frame path (skin accumulation + face tracking), release build, one core; median of \(runs) runs × \(framesPerRun) frames.\n")
print("| frame | SIMD path | scalar reference | memcpy of the frame | SIMD vs scalar | SIMD / memcpy |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for r in rows {
    func ms(_ ns: Double) -> String { String(Double(Int(ns / 1000)) / 1000) + " ms" }
    let speedup = Double(Int(r.scalar / r.simd * 10)) / 10
    let ratio = Double(Int(r.simd / r.copy * 10)) / 10
    print("| \(r.label) | \(ms(r.simd)) | \(ms(r.scalar)) | \(ms(r.copy)) | \(speedup)× faster | \(ratio)× |")
}
