extension SkinAccumulator {
    /// Adds the frame's skin pixels to `grid` one pixel at a time.
    ///
    /// This is the definition the SIMD path (``accumulate(_:into:)``) must match exactly; it is
    /// kept for the tests and the benchmarks, not for production use.
    ///
    /// - Throws: ``FrameError`` when the buffer is shorter than the geometry says.
    public func accumulateReference(_ frame: UnsafeRawBufferPointer, into grid: inout CellGrid) throws(FrameError) {
        try checkSize(frame, grid)
        guard let base = frame.baseAddress else { return }
        for y in 0..<geometry.height {
            for x in 0..<geometry.width {
                addReferencePixel(base, x: x, y: y, into: &grid)
            }
        }
    }

    /// Classifies the pixel at (`x`, `y`) and, when it is skin, adds it to its cell.
    @inline(__always)
    func addReferencePixel(_ base: UnsafeRawPointer, x: Int, y: Int, into grid: inout CellGrid) {
        guard let (classify, values) = referencePixel(base, x: x, y: y),
            thresholds.isSkin(y: classify.0, cb: classify.1, cr: classify.2)
        else { return }
        let cell = (y / grid.cellSize) * grid.columns + x / grid.cellSize
        grid.skinCount[cell] &+= 1
        grid.sum0[cell] &+= UInt32(values.0)
        grid.sum1[cell] &+= UInt32(values.1)
        grid.sum2[cell] &+= UInt32(values.2)
    }

    /// The values that classify the pixel (Y, Cb, Cr) and the values that are summed.
    @inline(__always)
    func referencePixel(_ base: UnsafeRawPointer, x: Int, y: Int) -> ((Int, Int, Int), (Int, Int, Int))? {
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let stride = geometry.bytesPerLine
        func at(_ offset: Int) -> Int { Int(bytes[offset]) }
        let yCbCr: (Int, Int, Int)
        switch geometry.format {
        case .yuyv, .uyvy:
            let pair = y * stride + (x & ~1) * 2
            let lumaFirst = geometry.format == .yuyv
            let luma = at(pair + (lumaFirst ? 0 : 1) + (x & 1) * 2)
            yCbCr = (luma, at(pair + (lumaFirst ? 1 : 0)), at(pair + (lumaFirst ? 3 : 2)))
        case .nv12:
            let chroma = geometry.firstPlaneSize + (y / 2) * geometry.chromaBytesPerLine + (x & ~1)
            yCbCr = (at(y * stride + x), at(chroma), at(chroma + 1))
        case .i420, .i422:
            let chromaRow = geometry.format == .i420 ? y / 2 : y
            let cb = geometry.firstPlaneSize + chromaRow * geometry.chromaBytesPerLine + x / 2
            let planeSize = geometry.chromaBytesPerLine * geometry.chromaRows
            yCbCr = (at(y * stride + x), at(cb), at(cb + planeSize))
        case .i444:
            let offset = y * stride + x
            yCbCr = (at(offset), at(offset + geometry.firstPlaneSize), at(offset + 2 * geometry.firstPlaneSize))
        case .rgb24, .bgr24:
            let p = y * stride + x * 3
            let redFirst = geometry.format == .rgb24
            let r = at(p + (redFirst ? 0 : 2)), g = at(p + 1), b = at(p + (redFirst ? 2 : 0))
            let c = ColourConversion.fullRangeYCbCr(r: r, g: g, b: b)
            return (c, (r, g, b))
        default:
            return nil
        }
        return (yCbCr, yCbCr)
    }
}
