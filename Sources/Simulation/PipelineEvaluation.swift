import VitalsCore

/// How one configuration of the vitals engine did on a simulated recording, against its truth.
public struct PipelineScore: Sendable, CustomStringConvertible {
    /// Mean absolute heart-rate error over the reported estimates whose windows see a pulse
    /// throughout (`.infinity` when there is none).
    public var meanAbsoluteError: Double
    /// Windows that see a pulse throughout, and how many of them got a heart rate.
    public var pulseWindows: Int, reported: Int
    /// Windows that see no pulse at all (nobody, a photo, a mannequin), and how many of them
    /// got a heart rate anyway.
    public var noPulseWindows: Int, falseReports: Int
    /// Everything the engine said.
    public var estimates: [VitalsEstimate]

    /// Share of the pulse windows that got a heart rate.
    public var coverage: Double { pulseWindows == 0 ? 0 : Double(reported) / Double(pulseWindows) }
    /// Share of the no-pulse windows that got a heart rate.
    public var falseReportRate: Double { noPulseWindows == 0 ? 0 : Double(falseReports) / Double(noPulseWindows) }

    public var description: String {
        let rates = estimates.map { $0.heartRate.map { String(Int($0.rounded())) } ?? "-" }.joined(separator: " ")
        return "MAE \(meanAbsoluteError) bpm, coverage \(coverage), false \(falseReports)/\(noPulseWindows): \(rates)"
    }
}

/// Runs the whole vitals pipeline on a simulated recording and scores it against the truth.
public enum PipelineEvaluation {
    /// Renders `scenario` once, frame by frame in `format`, feeds every frame to one pipeline per
    /// configuration, and scores each.
    ///
    /// - Throws: ``FrameError`` or ``ConfigurationError`` from the pipelines.
    public static func score(
        _ scenario: Scenario, format: PixelFormat = .i420, range: ColourRange = .limited, configurations: [VitalsConfiguration]
    ) throws -> [PipelineScore] {
        let simulator = PatientSimulator(scenario: scenario)
        let geometry = FrameGeometry(width: scenario.width, height: scenario.height, format: format)
        var pipelines = try configurations.map { try VitalsPipeline(geometry: geometry, range: range, configuration: $0) }
        var estimates = [[VitalsEstimate]](repeating: [], count: configurations.count)
        for i in 0..<simulator.frameCount {
            let frame = simulator.frame(i, format: format, range: range)
            let t = simulator.time(ofFrame: i)
            try frame.withUnsafeBytes { bytes in
                for k in pipelines.indices { estimates[k] += try pipelines[k].process(bytes, at: t) }
            }
        }
        return zip(configurations, pipelines.indices).map { configuration, k in
            estimates[k] += pipelines[k].finish()
            return score(estimates[k], of: simulator, windowSeconds: configuration.windowSeconds)
        }
    }

    /// Scores `estimates` against what `simulator` rendered.
    public static func score(_ estimates: [VitalsEstimate], of simulator: PatientSimulator, windowSeconds: Double) -> PipelineScore {
        let scenario = simulator.scenario
        let half = windowSeconds / 2
        var errors: [Double] = []
        var full = 0, empty = 0, falseHits = 0
        for e in estimates {
            let window = stride(from: e.time - half, to: e.time + half, by: 1 / scenario.frameRate)
            let pulse = window.filter { scenario.pulsePresent(at: $0) }.count
            if pulse == window.underestimatedCount {
                full += 1
                if let rate = e.heartRate, let truth = simulator.trueHeartRate(at: e.time) { errors.append(abs(rate - truth)) }
            } else if pulse == 0 {
                empty += 1
                if e.heartRate != nil { falseHits += 1 }
            }
        }
        return PipelineScore(
            meanAbsoluteError: errors.isEmpty ? .infinity : errors.reduce(0, +) / Double(errors.count),
            pulseWindows: full, reported: errors.count, noPulseWindows: empty, falseReports: falseHits, estimates: estimates)
    }
}
