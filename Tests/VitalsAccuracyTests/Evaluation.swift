import Simulation
import VitalsCore

/// How the vitals engine did on one simulated recording, against the simulator's truth.
struct Evaluation: CustomStringConvertible {
    /// Mean absolute heart-rate error over the estimates whose windows show the patient throughout.
    var meanAbsoluteError: Double
    /// Fraction of those windows that got an estimate.
    var coverage: Double
    /// Windows with nobody in view at all, and how many of them got an estimate anyway.
    var emptyWindows: Int, falseEstimates: Int
    /// Everything the engine said.
    var estimates: [VitalsEstimate]
    var simulator: PatientSimulator

    var description: String {
        let rates = estimates.map { $0.heartRate.map { String(Int($0.rounded())) } ?? "-" }.joined(separator: " ")
        return "MAE \(meanAbsoluteError) bpm, coverage \(coverage), false \(falseEstimates)/\(emptyWindows): \(rates)"
    }

    /// Renders `scenario` frame by frame in `format`, runs the whole pipeline and scores it.
    init(_ scenario: Scenario, format: PixelFormat = .i420, range: ColourRange = .limited, configuration: VitalsConfiguration = VitalsConfiguration())
        throws
    {
        let simulator = PatientSimulator(scenario: scenario)
        self.simulator = simulator
        var pipeline = try VitalsPipeline(
            geometry: FrameGeometry(width: scenario.width, height: scenario.height, format: format),
            range: range,
            configuration: configuration
        )
        var estimates: [VitalsEstimate] = []
        for i in 0..<simulator.frameCount {
            let frame = simulator.frame(i, format: format, range: range)
            estimates += try frame.withUnsafeBytes { try pipeline.process($0, at: simulator.time(ofFrame: i)) }
        }
        estimates += pipeline.finish()
        self.estimates = estimates

        let half = configuration.windowSeconds / 2
        var errors: [Double] = []
        var full = 0, empty = 0, falseHits = 0
        for e in estimates {
            let window = stride(from: e.time - half, to: e.time + half, by: 1 / scenario.frameRate)
            let presence = window.filter { scenario.patientPresent(at: $0) }.count
            if presence == window.underestimatedCount {
                full += 1
                if let rate = e.heartRate, let truth = simulator.trueHeartRate(at: e.time) { errors.append(abs(rate - truth)) }
            } else if presence == 0 {
                empty += 1
                if e.heartRate != nil { falseHits += 1 }
            }
        }
        meanAbsoluteError = errors.isEmpty ? .infinity : errors.reduce(0, +) / Double(errors.count)
        coverage = full == 0 ? 0 : Double(errors.count) / Double(full)
        emptyWindows = empty
        falseEstimates = falseHits
    }
}

/// A scenario with a seed-dependent heart rate in `range`, so no test is tuned to one rate.
func scenario(seed: UInt64, heartRate range: ClosedRange<Double> = 55...110, duration: Double = 30, _ change: (inout Scenario) -> Void = { _ in })
    -> Scenario
{
    var s = Scenario()
    s.seed = seed
    s.duration = duration
    var random = RandomSource(seed: seed &+ 1000)
    s.heartRate = .constant(range.lowerBound + random.uniform() * (range.upperBound - range.lowerBound))
    s.breathingRate = 10 + random.uniform() * 10
    change(&s)
    return s
}
