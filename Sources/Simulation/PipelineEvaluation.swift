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
    /// Renders `scenario` once, frame by frame in `format`, replays the frames' regions through
    /// one analyzer per configuration, and scores each (the same as one pipeline per
    /// configuration: the per-frame path does not depend on the analyzer's settings).
    ///
    /// - Throws: ``FrameError`` or ``ConfigurationError`` from the pipeline and the analyzers.
    public static func score(
        _ scenario: Scenario, format: PixelFormat = .i420, range: ColourRange = .limited, configurations: [VitalsConfiguration]
    ) throws -> [PipelineScore] {
        let trace = try regionTrace(of: scenario, format: format, range: range)
        return try configurations.map { try score(trace, of: scenario, configuration: $0) }
    }

    /// Renders `scenario` frame by frame in `format` through the per-frame path (skin
    /// accumulation, face tracking, the scene's brightness around the face) and keeps each
    /// frame's region.
    ///
    /// - Throws: ``FrameError`` from the pipeline.
    public static func regionTrace(of scenario: Scenario, format: PixelFormat = .i420, range: ColourRange = .limited) throws -> RegionTrace {
        let simulator = PatientSimulator(scenario: scenario)
        let geometry = FrameGeometry(width: scenario.width, height: scenario.height, format: format)
        var pipeline = try VitalsPipeline(geometry: geometry, range: range)
        var trace = RegionTrace()
        for i in 0..<simulator.frameCount {
            let frame = simulator.frame(i, format: format, range: range)
            let t = simulator.time(ofFrame: i)
            _ = try frame.withUnsafeBytes { try pipeline.process($0, at: t) }
            trace.append(pipeline.lastRegion, at: t)
        }
        return trace
    }

    /// What an analyzer with `configuration` says about a recorded trace, stream end included.
    ///
    /// - Throws: ``ConfigurationError`` for inconsistent settings.
    public static func replay(_ trace: RegionTrace, configuration: VitalsConfiguration) throws(ConfigurationError) -> [VitalsEstimate] {
        var analyzer = try VitalsAnalyzer(configuration: configuration)
        var estimates: [VitalsEstimate] = []
        for (t, region) in zip(trace.times, trace.regions) { estimates += analyzer.add(region, at: t) }
        return estimates + analyzer.finish()
    }

    /// Replays `trace` (recorded from `scenario`) with `configuration` and scores it.
    ///
    /// - Throws: ``ConfigurationError`` for inconsistent settings.
    public static func score(_ trace: RegionTrace, of scenario: Scenario, configuration: VitalsConfiguration) throws(ConfigurationError)
        -> PipelineScore
    {
        score(try replay(trace, configuration: configuration), of: scenario, windowSeconds: configuration.windowSeconds)
    }

    /// Scores `estimates` against the truth of `scenario`: a window counts as a pulse window when
    /// a pulse is in view in every frame of it, as a no-pulse window when in none.
    public static func score(_ estimates: [VitalsEstimate], of scenario: Scenario, windowSeconds: Double) -> PipelineScore {
        let half = windowSeconds / 2
        var errors: [Double] = []
        var full = 0, empty = 0, falseHits = 0
        for e in estimates {
            let window = stride(from: e.time - half, to: e.time + half, by: 1 / scenario.frameRate)
            let pulse = window.filter { scenario.pulsePresent(at: $0) }.count
            if pulse == window.underestimatedCount {
                full += 1
                if let rate = e.heartRate { errors.append(abs(rate - scenario.heartRate.bpm(at: e.time))) }
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
