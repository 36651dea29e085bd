import Simulation
import VitalsCore

/// How the vitals engine did on one simulated recording, against the simulator's truth.
struct Evaluation: CustomStringConvertible {
    /// The score of the one configuration run.
    var score: PipelineScore
    var simulator: PatientSimulator

    var meanAbsoluteError: Double { score.meanAbsoluteError }
    var coverage: Double { score.coverage }
    /// Windows with no pulse in view at all, and how many of them got an estimate anyway.
    var emptyWindows: Int { score.noPulseWindows }
    var falseEstimates: Int { score.falseReports }
    var estimates: [VitalsEstimate] { score.estimates }
    var description: String { score.description }

    /// Renders `scenario` frame by frame in `format`, runs the whole pipeline and scores it.
    init(_ scenario: Scenario, format: PixelFormat = .i420, range: ColourRange = .limited, configuration: VitalsConfiguration = VitalsConfiguration())
        throws
    {
        score = try PipelineEvaluation.score(scenario, format: format, range: range, configurations: [configuration])[0]
        simulator = PatientSimulator(scenario: scenario)
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
