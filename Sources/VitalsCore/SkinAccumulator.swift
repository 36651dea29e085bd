/// Classifies every pixel of a frame as skin or not and sums the skin pixels into a ``CellGrid``.
///
/// This is the per-frame hot path. ``accumulate(_:into:)`` processes 16 pixels at a time with
/// Swift SIMD vectors; ``accumulateReference(_:into:)`` is the plain per-pixel definition it is
/// tested against. Both produce identical sums.
///
/// YCbCr formats keep their luma and chroma sums (the conversion to RGB is affine, so the mean
/// colour of a region converts exactly after summing); RGB formats sum R, G and B.
/// ``PixelFormat/grey`` carries no colour, so no pixel is classified as skin.
public struct SkinAccumulator: Sendable {
    /// The frames this accumulator reads.
    public let geometry: FrameGeometry
    /// The colour range of the frames' YCbCr code values.
    public let range: ColourRange
    /// The colour box a skin pixel falls in; it may change between frames (``SkinExposure``).
    public var skinModel: SkinModel {
        didSet { thresholds = Self.thresholds(skinModel, geometry: geometry, range: range) }
    }
    private(set) var thresholds: SkinThresholds

    /// Prepares an accumulator for frames of one geometry.
    ///
    /// - Throws: ``FrameError`` when the geometry does not suit the format.
    public init(geometry: FrameGeometry, range: ColourRange = .limited, skinModel: SkinModel = SkinModel()) throws(FrameError) {
        try geometry.validate()
        self.geometry = geometry
        self.range = range
        self.skinModel = skinModel
        self.thresholds = Self.thresholds(skinModel, geometry: geometry, range: range)
    }

    /// The model's bounds in the code values the kernels compare: RGB frames are classified
    /// through a full-range conversion.
    private static func thresholds(_ model: SkinModel, geometry: FrameGeometry, range: ColourRange) -> SkinThresholds {
        model.thresholds(for: geometry.format.isRGB ? .full : range)
    }

    /// A grid sized for this accumulator's frames.
    public func makeGrid() -> CellGrid {
        CellGrid(width: geometry.width, height: geometry.height, space: geometry.format.isRGB ? .rgb : .yCbCr(range))
    }

    func checkSize(_ frame: UnsafeRawBufferPointer, _ grid: CellGrid) throws(FrameError) {
        guard frame.count >= geometry.frameSize else {
            throw FrameError("frame holds \(frame.count) bytes, \(geometry.format) \(geometry.width)x\(geometry.height) needs \(geometry.frameSize)")
        }
        guard grid.width == geometry.width, grid.height == geometry.height else {
            throw FrameError("grid is for \(grid.width)x\(grid.height) frames, not \(geometry.width)x\(geometry.height)")
        }
    }

    /// Adds the frame's skin pixels to `grid` (SIMD path).
    ///
    /// - Throws: ``FrameError`` when the buffer is shorter than the geometry says.
    public func accumulate(_ frame: UnsafeRawBufferPointer, into grid: inout CellGrid) throws(FrameError) {
        try checkSize(frame, grid)
        guard let base = frame.baseAddress else { return }
        switch geometry.format {
        case .yuyv: accumulatePacked(base, lumaFirst: true, into: &grid)
        case .uyvy: accumulatePacked(base, lumaFirst: false, into: &grid)
        case .nv12, .i420, .i422: accumulateSubsampledPlanar(base, into: &grid)
        case .i444: accumulateFullChroma(base, into: &grid)
        case .rgb24: accumulateRGB(base, redFirst: true, into: &grid)
        case .bgr24: accumulateRGB(base, redFirst: false, into: &grid)
        default: break
        }
    }
}

// MARK: - SIMD kernels

/// The skin thresholds splatted across SIMD lanes, built once per frame.
struct ThresholdVectors {
    typealias V = SIMD8<UInt16>
    let lumaLower, lumaSpan, cbLower, cbSpan, crLower, crSpan, redLimit: V

    init(_ t: SkinThresholds) {
        lumaLower = V(repeating: t.lumaLower)
        lumaSpan = V(repeating: t.lumaSpan)
        cbLower = V(repeating: t.cbLower)
        cbSpan = V(repeating: t.cbSpan)
        crLower = V(repeating: t.crLower)
        crSpan = V(repeating: t.crSpan)
        redLimit = V(repeating: t.redLimit)
    }

    /// The lanes whose chroma is a skin colour.
    @inline(__always)
    func chromaInside(cb: V, cr: V) -> SIMDMask<SIMD8<Int16>> {
        ((cb &- cbLower) .<= cbSpan) .& ((cr &- crLower) .<= crSpan)
    }
}

/// Per-lane sums of one cell while its rows are walked: eight 16-bit lanes (a cell of at most
/// 32 × 32 pixels cannot overflow them).
struct LaneSums {
    typealias V = SIMD8<UInt16>
    var count = V()
    var s0 = V(), s1 = V(), s2 = V()

    /// Pixel pairs sharing one chroma sample: luma `y0`, `y1`, chroma `cb`, `cr` per lane, whose
    /// chroma bounds the caller has tested (`chroma`, see ``ThresholdVectors/chromaInside(cb:cr:)``).
    ///
    /// The kernels test chroma first and skip a block of pixels where no lane's chroma is a skin
    /// colour (most of a frame's background). A frame of skin colour throughout pays the test
    /// and does all the rest (docs/BENCHMARKS.md times both).
    @inline(__always)
    mutating func addPairs(y0: V, y1: V, cb: V, cr: V, chroma: SIMDMask<SIMD8<Int16>>, _ t: ThresholdVectors) {
        let red = 11 &* cr
        let m0 = chroma .& ((y0 &- t.lumaLower) .<= t.lumaSpan) .& ((8 &* y0 &+ red) .<= t.redLimit)
        let m1 = chroma .& ((y1 &- t.lumaLower) .<= t.lumaSpan) .& ((8 &* y1 &+ red) .<= t.redLimit)
        let zero = V(), one = V(repeating: 1)
        let n = zero.replacing(with: one, where: m0) &+ zero.replacing(with: one, where: m1)
        count &+= n
        s0 &+= zero.replacing(with: y0, where: m0) &+ zero.replacing(with: y1, where: m1)
        s1 &+= cb &* n
        s2 &+= cr &* n
    }

    /// Single pixels: classified by `y`, `cb`, `cr`; `a0`, `a1`, `a2` are summed. Chroma is
    /// tested first, and a block without a skin colour skipped.
    @inline(__always)
    mutating func addSingles(y: V, cb: V, cr: V, a0: V, a1: V, a2: V, _ t: ThresholdVectors) {
        let chroma = t.chromaInside(cb: cb, cr: cr)
        guard any(chroma) else { return }
        let mask = chroma .& ((y &- t.lumaLower) .<= t.lumaSpan) .& ((8 &* y &+ 11 &* cr) .<= t.redLimit)
        let zero = V()
        count &+= zero.replacing(with: V(repeating: 1), where: mask)
        s0 &+= zero.replacing(with: a0, where: mask)
        s1 &+= zero.replacing(with: a1, where: mask)
        s2 &+= zero.replacing(with: a2, where: mask)
    }

    /// Adds the lane totals to cell `index` of `grid`.
    @inline(__always)
    func flush(into grid: inout CellGrid, cell index: Int) {
        grid.skinCount[index] &+= SIMD8<UInt32>(truncatingIfNeeded: count).wrappedSum()
        grid.sum0[index] &+= SIMD8<UInt32>(truncatingIfNeeded: s0).wrappedSum()
        grid.sum1[index] &+= SIMD8<UInt32>(truncatingIfNeeded: s1).wrappedSum()
        grid.sum2[index] &+= SIMD8<UInt32>(truncatingIfNeeded: s2).wrappedSum()
    }
}

extension SkinAccumulator {
    /// Pixels one kernel step handles.
    static let step = 16

    /// Walks the frame cell by cell, one band of cell rows at a time: for every whole cell,
    /// `cellRow` is called for each of its pixel rows with the cell's lane sums, which then go
    /// into the grid (the sums stay in registers while a cell is walked, and nothing is stored
    /// between two loads of the frame). Pixels right of the last whole cell go through the
    /// scalar classifier.
    @inline(__always)
    func forEachCell(
        _ base: UnsafeRawPointer,
        into grid: inout CellGrid,
        cellRow: (_ y: Int, _ column: Int, _ lanes: inout LaneSums) -> Void
    ) {
        let size = grid.cellSize
        let wholeCells = geometry.width / size
        for band in 0..<grid.rows {
            let top = band * size
            let bottom = min(geometry.height, top + size)
            for column in 0..<wholeCells {
                var lanes = LaneSums()
                for y in top..<bottom { cellRow(y, column, &lanes) }
                lanes.flush(into: &grid, cell: band * grid.columns + column)
            }
            for y in top..<bottom {
                for x in (wholeCells * size)..<geometry.width {
                    addReferencePixel(base, x: x, y: y, into: &grid)
                }
            }
        }
    }

    /// YUYV or UYVY: 16 pixels are 32 bytes, read as eight 32-bit words of two pixels each.
    func accumulatePacked(_ base: UnsafeRawPointer, lumaFirst: Bool, into grid: inout CellGrid) {
        let t = ThresholdVectors(thresholds)
        let stride = geometry.bytesPerLine
        let cellSize = grid.cellSize
        let byte = SIMD8<UInt32>(repeating: 0xFF)
        let (y0Shift, cbShift, y1Shift, crShift): (UInt32, UInt32, UInt32, UInt32) =
            lumaFirst ? (0, 8, 16, 24) : (8, 0, 24, 16)
        forEachCell(base, into: &grid) { y, column, lanes in
            let row = base + y * stride + column * cellSize * 2
            for step in 0..<(cellSize / Self.step) {
                let w = row.loadUnaligned(fromByteOffset: step * 32, as: SIMD8<UInt32>.self)
                // Chroma first: luma is unpacked only where a skin colour may be.
                let cb = SIMD8<UInt16>(truncatingIfNeeded: (w &>> cbShift) & byte)
                let cr = SIMD8<UInt16>(truncatingIfNeeded: (w &>> crShift) & byte)
                let chroma = t.chromaInside(cb: cb, cr: cr)
                guard any(chroma) else { continue }
                lanes.addPairs(
                    y0: SIMD8(truncatingIfNeeded: (w &>> y0Shift) & byte),
                    y1: SIMD8(truncatingIfNeeded: (w &>> y1Shift) & byte),
                    cb: cb, cr: cr, chroma: chroma, t
                )
            }
        }
    }

    /// NV12, I420, I422: 16 luma bytes as eight 16-bit words (an even and an odd pixel each),
    /// with the eight chroma samples they share.
    func accumulateSubsampledPlanar(_ base: UnsafeRawPointer, into grid: inout CellGrid) {
        let t = ThresholdVectors(thresholds)
        let stride = geometry.bytesPerLine
        let chromaStride = geometry.chromaBytesPerLine
        let chromaPlaneSize = chromaStride * geometry.chromaRows
        let verticalShift = geometry.format == .i422 ? 0 : 1
        let interleaved = geometry.format == .nv12
        let lumaPlane = base
        let chromaPlane = base + geometry.firstPlaneSize
        let cellSize = grid.cellSize
        let low = SIMD8<UInt16>(repeating: 0xFF)
        forEachCell(base, into: &grid) { y, column, lanes in
            let lumaRow = lumaPlane + y * stride
            let chromaRow = chromaPlane + (y >> verticalShift) * chromaStride
            for step in 0..<(cellSize / Self.step) {
                let x = column * cellSize + step * Self.step
                let cb: SIMD8<UInt16>, cr: SIMD8<UInt16>
                if interleaved {
                    let c = chromaRow.loadUnaligned(fromByteOffset: x, as: SIMD8<UInt16>.self)
                    cb = c & low
                    cr = c &>> 8
                } else {
                    cb = SIMD8(truncatingIfNeeded: chromaRow.loadUnaligned(fromByteOffset: x / 2, as: SIMD8<UInt8>.self))
                    cr = SIMD8(
                        truncatingIfNeeded: chromaRow.loadUnaligned(fromByteOffset: chromaPlaneSize + x / 2, as: SIMD8<UInt8>.self)
                    )
                }
                let chroma = t.chromaInside(cb: cb, cr: cr)
                guard any(chroma) else { continue }
                let luma = lumaRow.loadUnaligned(fromByteOffset: x, as: SIMD8<UInt16>.self)
                lanes.addPairs(y0: luma & low, y1: luma &>> 8, cb: cb, cr: cr, chroma: chroma, t)
            }
        }
    }

    /// I444: every pixel has its own chroma; 16 pixels as two halves of eight.
    func accumulateFullChroma(_ base: UnsafeRawPointer, into grid: inout CellGrid) {
        let t = ThresholdVectors(thresholds)
        let stride = geometry.bytesPerLine
        let planeSize = geometry.firstPlaneSize
        let cellSize = grid.cellSize
        forEachCell(base, into: &grid) { y, column, lanes in
            let row = base + y * stride
            for half in 0..<(cellSize / 8) {
                let x = column * cellSize + half * 8
                let l = SIMD8<UInt16>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: x, as: SIMD8<UInt8>.self))
                let cb = SIMD8<UInt16>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: planeSize + x, as: SIMD8<UInt8>.self))
                let cr = SIMD8<UInt16>(truncatingIfNeeded: row.loadUnaligned(fromByteOffset: 2 * planeSize + x, as: SIMD8<UInt8>.self))
                lanes.addSingles(y: l, cb: cb, cr: cr, a0: l, a1: cb, a2: cr, t)
            }
        }
    }

    /// RGB24 or BGR24: eight pixels gathered into channel vectors, classified through the integer
    /// full-range YCbCr conversion of ``ColourConversion``; R, G and B are summed.
    func accumulateRGB(_ base: UnsafeRawPointer, redFirst: Bool, into grid: inout CellGrid) {
        let t = ThresholdVectors(thresholds)
        let stride = geometry.bytesPerLine
        let cellSize = grid.cellSize
        let (rOffset, bOffset) = redFirst ? (0, 2) : (2, 0)
        forEachCell(base, into: &grid) { y, column, lanes in
            var p = (base + y * stride).assumingMemoryBound(to: UInt8.self) + column * cellSize * 3
            for _ in 0..<(cellSize / 8) {
                var r = SIMD8<UInt16>(), g = SIMD8<UInt16>(), b = SIMD8<UInt16>()
                for i in 0..<8 {
                    r[i] = UInt16(p[3 * i + rOffset])
                    g[i] = UInt16(p[3 * i + 1])
                    b[i] = UInt16(p[3 * i + bOffset])
                }
                let (l, cb, cr) = ColourConversion.fullRangeYCbCr(r: r, g: g, b: b)
                lanes.addSingles(y: l, cb: cb, cr: cr, a0: r, a1: g, a2: b, t)
                p += 24
            }
        }
    }
}
