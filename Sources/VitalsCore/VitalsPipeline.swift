/// The whole per-frame path: skin accumulation, face tracking and the vitals analysis.
///
/// ```swift
/// var pipeline = try VitalsPipeline(geometry: FrameGeometry(width: 640, height: 480, format: .yuyv))
/// for (time, bytes) in frames {
///     for estimate in try bytes.withUnsafeBytes({ try pipeline.process($0, at: time) }) { show(estimate) }
/// }
/// for estimate in pipeline.finish() { show(estimate) }
/// ```
public struct VitalsPipeline: Sendable {
    private let accumulator: SkinAccumulator
    private var grid: CellGrid
    private var tracker = FaceTracker()
    private var analyzer: VitalsAnalyzer
    private let background: BackgroundLight
    /// What the tracker found in the latest frame.
    public private(set) var lastRegion: RegionSample = .absent

    /// A pipeline for frames of one geometry and colour range.
    ///
    /// - Throws: ``FrameError`` for a geometry the format does not allow,
    ///   ``ConfigurationError`` for inconsistent settings.
    public init(
        geometry: FrameGeometry,
        range: ColourRange = .limited,
        configuration: VitalsConfiguration = VitalsConfiguration()
    ) throws {
        accumulator = try SkinAccumulator(geometry: geometry, range: range)
        grid = accumulator.makeGrid()
        background = BackgroundLight(geometry: geometry)
        analyzer = try VitalsAnalyzer(configuration: configuration)
    }

    /// Analyses one frame taken at `time` seconds; returns the estimates it completed.
    ///
    /// - Throws: ``FrameError`` when the buffer is shorter than the geometry says.
    public mutating func process(_ frame: UnsafeRawBufferPointer, at time: Double) throws(FrameError) -> [VitalsEstimate] {
        grid.reset()
        try accumulator.accumulate(frame, into: &grid)
        lastRegion = tracker.track(grid)
        if analyzer.configuration.cancelsFlicker {
            lastRegion.backgroundLuma = background.meanLuma(frame, outside: lastRegion.facePresent ? lastRegion.bounds : nil)
        }
        return analyzer.add(lastRegion, at: time)
    }

    /// Closes the last window at the end of a stream.
    public mutating func finish() -> [VitalsEstimate] { analyzer.finish() }
}
