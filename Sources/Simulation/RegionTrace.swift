import VitalsCore

/// What the vitals pipeline's per-frame path made of a recording: each frame's time and
/// ``RegionSample``, the analyzer's whole input.
///
/// Rendering and accumulating the frames is nearly all of an evaluation's cost, and it does not
/// depend on the analyzer's settings; a trace kept once replays any ``VitalsConfiguration`` in
/// milliseconds (``PipelineEvaluation/replay(_:configuration:)``). Saved as CSV, one line per
/// frame, every number in the shortest form that reads back exactly.
public struct RegionTrace: Sendable, Hashable {
    /// Frame times in seconds, increasing.
    public var times: [Double] = []
    /// What the tracker found in each frame, with the scene's brightness around the face.
    public var regions: [RegionSample] = []

    /// An empty trace.
    public init() {}

    /// Adds one frame's region.
    public mutating func append(_ region: RegionSample, at time: Double) {
        times.append(time)
        regions.append(region)
    }

    /// The CSV header line, naming the columns.
    public static let header = "t,face,r,g,b,white_r,white_g,white_b,black_r,black_g,black_b,background_luma,skin_pixels,x,y,width,height"

    /// The trace as CSV with a header line.
    public var csv: String {
        var lines = [Self.header]
        lines.reserveCapacity(times.count + 1)
        for (t, r) in zip(times, regions) {
            let numbers: [String] = [
                "\(t)", r.facePresent ? "1" : "0",
                "\(r.meanRGB.x)", "\(r.meanRGB.y)", "\(r.meanRGB.z)",
                "\(r.whiteCellsRGB.x)", "\(r.whiteCellsRGB.y)", "\(r.whiteCellsRGB.z)",
                "\(r.blackCellsRGB.x)", "\(r.blackCellsRGB.y)", "\(r.blackCellsRGB.z)",
                "\(r.backgroundLuma)", "\(r.skinPixels)",
                "\(r.bounds.x)", "\(r.bounds.y)", "\(r.bounds.width)", "\(r.bounds.height)",
            ]
            lines.append(numbers.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a trace written by ``csv``.
    ///
    /// - Throws: ``RegionTraceError`` naming the first line that is not a frame of a trace.
    public init(csv text: String) throws(RegionTraceError) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard lines.first.map(String.init) == Self.header else { throw RegionTraceError(line: 1, reason: "the header is not a region trace's") }
        lines = lines.dropFirst()
        for (offset, line) in lines.enumerated() {
            let number = offset + 2
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 17 else { throw RegionTraceError(line: number, reason: "\(fields.count) fields, not 17") }
            let values = fields.map { Double($0) }
            guard values.allSatisfy({ $0?.isFinite == true }) else { throw RegionTraceError(line: number, reason: "a field is not a number") }
            let v = values.map { $0! }
            guard let face = Int(exactly: v[1]), face == 0 || face == 1 else { throw RegionTraceError(line: number, reason: "face must be 0 or 1") }
            guard times.last.map({ v[0] > $0 }) ?? true else { throw RegionTraceError(line: number, reason: "time \(v[0]) does not follow the previous frame's") }
            let integers = v[12...16].map { Int(exactly: $0) }
            guard integers.allSatisfy({ $0 != nil }) else { throw RegionTraceError(line: number, reason: "pixel counts and bounds must be whole numbers") }
            let i = integers.map { $0! }
            var region = RegionSample(
                facePresent: face == 1, meanRGB: SIMD3(v[2], v[3], v[4]), skinPixels: i[0],
                bounds: PixelRect(x: i[1], y: i[2], width: i[3], height: i[4]))
            region.whiteCellsRGB = SIMD3(v[5], v[6], v[7])
            region.blackCellsRGB = SIMD3(v[8], v[9], v[10])
            region.backgroundLuma = v[11]
            append(region, at: v[0])
        }
    }
}

/// A region trace that cannot be read.
public struct RegionTraceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The line (from 1) where reading stopped.
    public var line: Int
    /// What is wrong with it.
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}
