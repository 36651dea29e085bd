#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// What the tracker found in one frame.
public struct RegionSample: Sendable, Hashable {
    /// Whether a skin region large enough to be a face was found.
    public var facePresent: Bool
    /// Mean colour of the region's skin pixels, RGB on a 0–255 scale (zero when absent).
    public var meanRGB: SIMD3<Double>
    /// The same over each half of the region's cells, taken as the squares of a chessboard:
    /// two views of one pulse whose camera noise is independent, which tells how precisely a
    /// beat can be timed.
    public var whiteCellsRGB = SIMD3<Double>.zero, blackCellsRGB = SIMD3<Double>.zero
    /// The brightness of the scene around the face (``BackgroundLight/Reading/level``, on the
    /// scale of its mean luma), 0 when unknown: the lamp's flicker and the camera's changes
    /// without the pulse or the head's motion, which the analyzer cancels from the face's signal.
    /// (Region traces saved before 2026-12-05's sixth session hold the plain mean here.)
    public var backgroundLuma = 0.0
    /// Skin pixels in the region.
    public var skinPixels: Int
    /// The region's bounding box in pixels (empty when absent).
    public var bounds: PixelRect

    /// A region with the given mean colour (the halves' colours default to it).
    public init(facePresent: Bool, meanRGB: SIMD3<Double>, skinPixels: Int, bounds: PixelRect) {
        self.facePresent = facePresent
        self.meanRGB = meanRGB
        self.whiteCellsRGB = meanRGB
        self.blackCellsRGB = meanRGB
        self.skinPixels = skinPixels
        self.bounds = bounds
    }

    /// No face in this frame.
    public static let absent = RegionSample(facePresent: false, meanRGB: .zero, skinPixels: 0, bounds: PixelRect())
}

/// A rectangle of pixels.
public struct PixelRect: Sendable, Hashable {
    /// Left and top edges, width and height, in pixels.
    public var x = 0, y = 0, width = 0, height = 0

    /// A rectangle with the given left and top edges and size.
    public init(x: Int = 0, y: Int = 0, width: Int = 0, height: Int = 0) {
        (self.x, self.y, self.width, self.height) = (x, y, width, height)
    }
}

/// Finds the face's skin region in a ``CellGrid`` and follows it from frame to frame.
///
/// Skin cells (cells mostly of skin pixels) are grouped into 4-connected regions, and each
/// region is scored by its size, weighted by how close its centre is to the frame's centre (a
/// kiosk camera is aimed at the patient's face; a skin-coloured cabinet at the side should not
/// win) and boosted by ``followBonus`` when it overlaps the region followed in the previous
/// frame (so the face stays selected as the head moves). Regions smaller than
/// ``minimumFraction`` of the frame are not a face.
public struct FaceTracker: Sendable {
    /// Fraction of a cell that must be skin for the cell to count.
    public var cellSkinFraction: Double = 0.5
    /// Smallest region, as a fraction of the frame's cells, that counts as a face.
    public var minimumFraction: Double = 0.012
    /// Spread of the centre weighting, as a fraction of the frame's diagonal half-size.
    public var centreSpread: Double = 0.4
    /// Score factor of the region that overlaps the previously followed one.
    public var followBonus: Double = 2

    private var labels: [Int32] = []
    private var stack: [Int] = []
    private var followed: [Bool] = []

    /// A tracker with no region followed yet.
    public init() {}

    /// Forgets the followed region.
    public mutating func reset() { followed = [] }

    /// Finds the face region in `grid` and returns its mean colour.
    public mutating func track(_ grid: CellGrid) -> RegionSample {
        let cellCount = grid.columns * grid.rows
        if labels.count != cellCount {
            labels = Array(repeating: 0, count: cellCount)
            followed = []
        }
        for i in 0..<cellCount {
            labels[i] = grid.skinFraction(ofCell: i) >= cellSkinFraction ? 0 : -1
        }
        let minimumCells = max(4, Int((Double(cellCount) * minimumFraction).rounded(.up)))

        // Label 4-connected regions; keep the best one.
        var nextLabel: Int32 = 0
        var best: (label: Int32, score: Double)? = nil
        for start in 0..<cellCount where labels[start] == 0 {
            nextLabel += 1
            var size = 0, overlap = 0
            var centre = SIMD2<Double>.zero
            stack.removeAll(keepingCapacity: true)
            stack.append(start)
            labels[start] = nextLabel
            while let cell = stack.popLast() {
                size += 1
                if !followed.isEmpty && followed[cell] { overlap += 1 }
                let column = cell % grid.columns
                centre += SIMD2(Double(column) + 0.5, Double(cell / grid.columns) + 0.5)
                func visit(_ neighbour: Int) {
                    guard labels[neighbour] == 0 else { return }
                    labels[neighbour] = nextLabel
                    stack.append(neighbour)
                }
                if column > 0 { visit(cell - 1) }
                if column + 1 < grid.columns { visit(cell + 1) }
                if cell >= grid.columns { visit(cell - grid.columns) }
                if cell + grid.columns < cellCount { visit(cell + grid.columns) }
            }
            guard size >= minimumCells else { continue }
            let offset = (centre / Double(size) - SIMD2(Double(grid.columns), Double(grid.rows)) / 2)
                / (SIMD2(Double(grid.columns), Double(grid.rows)) / 2)
            let distance2 = (offset * offset).sum() / 2
            var score = Double(size) * exp(-distance2 / (2 * centreSpread * centreSpread))
            if overlap > 0 { score *= followBonus }
            if best == nil || score > best!.score { best = (nextLabel, score) }
        }
        guard let chosen = best else {
            followed = []
            return .absent
        }

        var count: UInt64 = 0
        var sums = SIMD3<Double>.zero
        var halfCounts: (UInt64, UInt64) = (0, 0)
        var halfSums: (SIMD3<Double>, SIMD3<Double>) = (.zero, .zero)
        var minX = Int.max, minY = Int.max, maxX = 0, maxY = 0
        if followed.count != cellCount { followed = Array(repeating: false, count: cellCount) }
        for i in 0..<cellCount {
            let inside = labels[i] == chosen.label
            followed[i] = inside
            guard inside else { continue }
            let cellSums = SIMD3(Double(grid.sum0[i]), Double(grid.sum1[i]), Double(grid.sum2[i]))
            count += UInt64(grid.skinCount[i])
            sums += cellSums
            if (i % grid.columns + i / grid.columns) % 2 == 0 {
                halfCounts.0 += UInt64(grid.skinCount[i])
                halfSums.0 += cellSums
            } else {
                halfCounts.1 += UInt64(grid.skinCount[i])
                halfSums.1 += cellSums
            }
            minX = min(minX, i % grid.columns)
            maxX = max(maxX, i % grid.columns)
            minY = min(minY, i / grid.columns)
            maxY = max(maxY, i / grid.columns)
        }
        func rgb(_ sums: SIMD3<Double>, _ count: UInt64) -> SIMD3<Double> {
            let mean = sums / Double(max(1, count))
            return switch grid.space {
            case .rgb: mean
            case .yCbCr(let range): ColourConversion.rgb(fromYCbCr: mean, range: range)
            }
        }
        let s = grid.cellSize
        var sample = RegionSample(
            facePresent: true,
            meanRGB: rgb(sums, count),
            skinPixels: Int(count),
            bounds: PixelRect(
                x: minX * s,
                y: minY * s,
                width: min(grid.width, (maxX + 1) * s) - minX * s,
                height: min(grid.height, (maxY + 1) * s) - minY * s
            )
        )
        sample.whiteCellsRGB = rgb(halfSums.0, halfCounts.0)
        sample.blackCellsRGB = rgb(halfSums.1, halfCounts.1)
        return sample
    }
}
