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
    private var accumulator: SkinAccumulator
    private let skinModel: SkinModel
    private var exposure = SkinExposure()
    private var grid: CellGrid
    private var tracker = FaceTracker()
    private var analyzer: VitalsAnalyzer
    private var background: BackgroundLight
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
        skinModel = SkinModel()
        accumulator = try SkinAccumulator(geometry: geometry, range: range, skinModel: skinModel)
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
        let reading = background.read(frame, outside: lastRegion.facePresent ? lastRegion.bounds : nil)
        lastRegion.backgroundLuma = reading.level
        let scene = reading.meanLuma
        // The next frame's skin box follows the brightness of this one's face (or scene).
        let faceLuma = lastRegion.facePresent ? (SIMD3(0.299, 0.587, 0.114) * lastRegion.meanRGB).sum() : nil
        let sceneLuma = accumulator.range == .limited && !accumulator.geometry.format.isRGB ? (scene - 16) * 255 / 219 : scene
        if exposure.update(faceLuma: faceLuma, sceneLuma: max(0, sceneLuma)) { accumulator.skinModel = skinModel.dimmed(to: exposure.scale) }
        return analyzer.add(lastRegion, at: time)
    }

    /// Closes the last window at the end of a stream.
    public mutating func finish() -> [VitalsEstimate] { analyzer.finish() }
}
