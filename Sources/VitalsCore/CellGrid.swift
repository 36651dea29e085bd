/// What the three channel sums of a ``CellGrid`` hold.
public enum ChannelSpace: Hashable, Sendable {
    /// Luma, blue- and red-difference chroma, in the code values of the given range.
    case yCbCr(ColourRange)
    /// Red, green and blue.
    case rgb
}

/// Sums of the skin pixels of a frame, cell by cell, over a coarse grid of square cells.
///
/// The grid is what the face tracker sees: a cell is "skin" when most of its pixels are, and
/// the region of interest is a connected group of skin cells. Keeping sums instead of pixels
/// makes the region's mean colour a cheap sum over its cells, and only skin pixels count, so
/// hair and background at a region's edge do not leak into it.
public struct CellGrid: Sendable {
    /// Side of a square cell, in pixels.
    public let cellSize: Int
    /// Cells across.
    public let columns: Int
    /// Cells down.
    public let rows: Int
    /// Frame size the grid covers.
    public let width: Int, height: Int
    /// What the channel sums mean.
    public let space: ChannelSpace

    /// Skin pixels per cell, row-major.
    public internal(set) var skinCount: [UInt32]
    /// Per-cell sums of the first, second and third channel over skin pixels.
    public internal(set) var sum0: [UInt32], sum1: [UInt32], sum2: [UInt32]

    /// An empty grid for frames of the given size.
    ///
    /// The cell size is about a fortieth of the width, a multiple of 16 between 16 and 32 pixels,
    /// so a face fills a few dozen cells at any usual resolution.
    public init(width: Int, height: Int, space: ChannelSpace) {
        let size = width >= 1024 ? 32 : 16
        self.cellSize = size
        self.columns = (width + size - 1) / size
        self.rows = (height + size - 1) / size
        self.width = width
        self.height = height
        self.space = space
        let count = columns * rows
        skinCount = Array(repeating: 0, count: count)
        sum0 = skinCount
        sum1 = skinCount
        sum2 = skinCount
    }

    /// Clears every sum.
    public mutating func reset() {
        for i in skinCount.indices {
            skinCount[i] = 0
            sum0[i] = 0
            sum1[i] = 0
            sum2[i] = 0
        }
    }

    /// Pixels inside cell `index` (edge cells may be cut by the frame border).
    public func area(ofCell index: Int) -> Int {
        let column = index % columns
        let row = index / columns
        let w = min(cellSize, width - column * cellSize)
        let h = min(cellSize, height - row * cellSize)
        return w * h
    }

    /// The fraction of cell `index` that is skin.
    public func skinFraction(ofCell index: Int) -> Double {
        Double(skinCount[index]) / Double(area(ofCell: index))
    }

    /// Whether every sum equals the other grid's.
    public func hasSameSums(as other: CellGrid) -> Bool {
        skinCount == other.skinCount && sum0 == other.sum0 && sum1 == other.sum1 && sum2 == other.sum2
    }
}
