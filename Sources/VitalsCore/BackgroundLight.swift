/// The brightness of the scene around the face: the lamp's own flicker, with no pulse in it.
///
/// Luma is read on a sparse lattice (every ``spacing``-th pixel of every ``spacing``-th row, a
/// 64th of the frame at the default: a few microseconds) outside the face's bounding box (grown
/// by a quarter on each side so hair and neck stay out), leaving out near-black and clipped
/// pixels, which do not follow the light in proportion.
public struct BackgroundLight: Sendable {
    /// The frames read.
    public let geometry: FrameGeometry
    /// Lattice spacing in pixels.
    public var spacing = 8

    /// A sampler for frames of `geometry`.
    public init(geometry: FrameGeometry) { self.geometry = geometry }

    /// Mean luma (0–255 code values) of the lattice outside `face` (`nil`: no face), or 0 when
    /// too few pixels qualify (a face that fills the frame).
    ///
    /// - Precondition: `frame` holds at least `geometry.frameSize` bytes.
    public func meanLuma(_ frame: UnsafeRawBufferPointer, outside face: PixelRect?) -> Double {
        guard frame.count >= geometry.frameSize, geometry.format.hasColour || geometry.format == .grey else { return 0 }
        var excluded = PixelRect(x: 0, y: 0, width: 0, height: 0)
        if let face, face.width > 0 {
            let (gx, gy) = (face.width / 4, face.height / 4)
            excluded = PixelRect(x: face.x - gx, y: face.y - gy, width: face.width + 2 * gx, height: face.height + 2 * gy)
        }
        var sum = 0, count = 0
        var y = spacing / 2
        while y < geometry.height {
            let row = y * geometry.bytesPerLine
            let rowExcluded = y >= excluded.y && y < excluded.y + excluded.height
            var x = spacing / 2
            while x < geometry.width {
                if !(rowExcluded && x >= excluded.x && x < excluded.x + excluded.width) {
                    let v = luma(frame, row: row, x: x)
                    if v >= 20, v <= 240 {
                        sum += v
                        count += 1
                    }
                }
                x += spacing
            }
            y += spacing
        }
        return count >= 16 ? Double(sum) / Double(count) : 0
    }

    @inline(__always)
    private func luma(_ frame: UnsafeRawBufferPointer, row: Int, x: Int) -> Int {
        switch geometry.format {
        case .yuyv: Int(frame[row + 2 * x])
        case .uyvy: Int(frame[row + 2 * x + 1])
        case .rgb24, .bgr24:
            geometry.format == .rgb24
                ? (77 * Int(frame[row + 3 * x]) + 150 * Int(frame[row + 3 * x + 1]) + 29 * Int(frame[row + 3 * x + 2])) >> 8
                : (29 * Int(frame[row + 3 * x]) + 150 * Int(frame[row + 3 * x + 1]) + 77 * Int(frame[row + 3 * x + 2])) >> 8
        default: Int(frame[row + x])
        }
    }
}
