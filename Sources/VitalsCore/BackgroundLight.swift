/// The brightness of the scene around the face: the lamp's flicker and the camera's own
/// changes of exposure and gain, with no pulse in it.
///
/// Luma is read on a sparse lattice (every ``spacing``-th pixel of every ``spacing``-th row, a
/// 64th of the frame: a few microseconds) outside the face's bounding box (grown
/// by a quarter on each side so hair and neck stay out), leaving out near-black and clipped
/// pixels, which do not follow the light in proportion.
///
/// The box moves with the head, in the tracker's cell steps, and each move trades lattice
/// pixels of a wall that is not evenly lit: the plain mean (``meanLuma(_:outside:)``) jumped by
/// 0.6% at each move of a talking patient's box, against 0.15% between frames where it stayed,
/// so it carried the head's motion. ``read(_:outside:)`` keeps a ``Reading/level`` that follows
/// only the light: each frame's change is the ratio of the lattice pixels outside both this
/// frame's box and the last one's (the same pixels in both frames), and the level is drawn
/// towards the mean slowly enough (``meanPull`` of the gap per frame) that it cannot wander.
public struct BackgroundLight: Sendable {
    /// One frame's reading of the scene.
    public struct Reading: Sendable, Hashable {
        /// Mean luma (0–255 code values) of the lattice outside the face, 0 when too few pixels
        /// qualify (a face that fills the frame).
        public var meanLuma: Double
        /// The scene's brightness as the light changes it, on the mean's scale (0 with it).
        public var level: Double
    }

    /// The frames read.
    public let geometry: FrameGeometry
    /// Lattice spacing in pixels.
    public let spacing = 8
    /// The share of the gap between ``Reading/level`` and the mean closed each frame: at 30
    /// frames a second, a time constant of 8.5 s (17 s at 15). A box's move that shifts the mean by 0.6%
    /// moves the level by 0.002% in the next frame and by 0.07% over the next second it stays
    /// there (a frame's noise is 0.15%), while the lamp's and the camera's changes pass whole.
    public static let meanPull = 1.0 / 256

    /// The last frame's lattice lumas (0: not usable; overwritten as the next frame is read) and
    /// its excluded box.
    private var lastLattice: [UInt8] = []
    private var lastExcluded = PixelRect()
    private var level = 0.0

    /// A sampler for frames of `geometry`.
    public init(geometry: FrameGeometry) { self.geometry = geometry }

    /// Mean luma (0–255 code values) of the lattice outside `face` (`nil`: no face), or 0 when
    /// too few pixels qualify: one frame on its own, read by a copy of this sampler (which
    /// makes a lattice of its own; a stream is read with ``read(_:outside:)``).
    ///
    /// - Precondition: `frame` holds at least `geometry.frameSize` bytes.
    public func meanLuma(_ frame: UnsafeRawBufferPointer, outside face: PixelRect?) -> Double {
        var sampler = self
        return sampler.read(frame, outside: face).meanLuma
    }

    /// Reads the next frame of a stream: its mean luma outside `face` and the level that follows
    /// the light from the last frame read.
    ///
    /// - Precondition: `frame` holds at least `geometry.frameSize` bytes.
    public mutating func read(_ frame: UnsafeRawBufferPointer, outside face: PixelRect?) -> Reading {
        guard frame.count >= geometry.frameSize else {
            lastLattice = []
            level = 0
            return Reading(meanLuma: 0, level: 0)
        }
        var excluded = PixelRect()
        if let face, face.width > 0 {
            let (gx, gy) = (face.width / 4, face.height / 4)
            excluded = PixelRect(x: face.x - gx, y: face.y - gy, width: face.width + 2 * gx, height: face.height + 2 * gy)
        }
        let half = spacing / 2
        let columns = max(0, geometry.width - half + spacing - 1) / spacing
        let rows = max(0, geometry.height - half + spacing - 1) / spacing
        // Taken out and put back, so it is written in place while the frame is read.
        var lattice = lastLattice
        lastLattice = []
        if lattice.count != columns * rows { lattice = [UInt8](repeating: 0, count: columns * rows) }
        let sums = lattice.withUnsafeMutableBufferPointer { lattice in
            Self.scan(frame, geometry: geometry, spacing: spacing, columns: columns, rows: rows, excluded: excluded, lastExcluded: lastExcluded, into: lattice)
        }
        lastLattice = lattice
        lastExcluded = excluded
        guard sums.count >= 16 else {
            level = 0
            return Reading(meanLuma: 0, level: 0)
        }
        let mean = Double(sums.sum) / Double(sums.count)
        if level > 0 {
            // Too few points outside both frames' boxes (the face leapt across the frame): the
            // level holds, rather than jump to the mean, and is only drawn towards it. (Too few
            // outside this frame's box, above, and the level starts again from the mean.)
            if sums.shared >= 16 { level *= Double(sums.sharedNow) / Double(sums.sharedBefore) }
            level += (mean - level) * Self.meanPull
        } else {
            level = mean
        }
        return Reading(meanLuma: mean, level: level)
    }

    /// One pass over the lattice: the luma of the usable points outside `excluded` (their sum and
    /// count), and of those also outside `lastExcluded` and usable in the last frame (`lattice`'s
    /// values, overwritten with this frame's), their sums in both frames and count.
    private static func scan(
        _ frame: UnsafeRawBufferPointer, geometry: FrameGeometry, spacing: Int, columns: Int, rows: Int,
        excluded: PixelRect, lastExcluded: PixelRect, into lattice: UnsafeMutableBufferPointer<UInt8>
    ) -> (sum: Int, count: Int, sharedNow: Int, sharedBefore: Int, shared: Int) {
        let half = spacing / 2
        /// The lattice columns that `rect` covers in the lattice row at `y` (column i is at
        /// x = half + i × spacing: the first at or right of each edge bounds them).
        func columnsCovered(by rect: PixelRect, y: Int) -> Range<Int> {
            guard rect.width > 0, y >= rect.y, y < rect.y + rect.height else { return 0..<0 }
            func firstColumn(atOrRightOf x: Int) -> Int { min(columns, max(0, x - half + spacing - 1) / spacing) }
            let lower = firstColumn(atOrRightOf: rect.x)
            return lower..<max(lower, firstColumn(atOrRightOf: rect.x + rect.width))
        }
        var sum = 0, count = 0, sharedNow = 0, sharedBefore = 0, shared = 0
        for j in 0..<rows {
            let y = half + j * spacing
            let row = y * geometry.bytesPerLine
            let face = columnsCovered(by: excluded, y: y), lastFace = columnsCovered(by: lastExcluded, y: y)
            for i in 0..<columns {
                let k = j * columns + i
                let before = Int(lattice[k])
                let v = luma(frame, format: geometry.format, row: row, x: half + i * spacing)
                let usable = v >= 20 && v <= 240
                lattice[k] = usable ? UInt8(v) : 0
                guard usable, !face.contains(i) else { continue }
                sum += v
                count += 1
                // A fresh lattice holds zeros: nothing is shared with a frame not read.
                if before > 0, !lastFace.contains(i) {
                    sharedNow += v
                    sharedBefore += before
                    shared += 1
                }
            }
        }
        return (sum, count, sharedNow, sharedBefore, shared)
    }

    @inline(__always)
    private static func luma(_ frame: UnsafeRawBufferPointer, format: PixelFormat, row: Int, x: Int) -> Int {
        switch format {
        case .yuyv: Int(frame[row + 2 * x])
        case .uyvy: Int(frame[row + 2 * x + 1])
        case .rgb24: (77 * Int(frame[row + 3 * x]) + 150 * Int(frame[row + 3 * x + 1]) + 29 * Int(frame[row + 3 * x + 2])) >> 8
        case .bgr24: (29 * Int(frame[row + 3 * x]) + 150 * Int(frame[row + 3 * x + 1]) + 77 * Int(frame[row + 3 * x + 2])) >> 8
        default: Int(frame[row + x])
        }
    }
}
