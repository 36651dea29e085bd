#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The power spectrum of a real signal block of a power-of-two length, through a complex FFT
/// of half that length (radix-2, the wide stages in SIMD8).
///
/// Not thread-safe: holds its working buffers. One instance per stream.
public struct PowerSpectrum: Sendable {
    /// Samples per block.
    public let size: Int
    /// Bins returned: `size / 2 + 1`, from DC to Nyquist.
    public var binCount: Int { size / 2 + 1 }

    private let half: Int
    private let bitReversed: [Int]
    /// Twiddles of the stage with half-length `h` at indices `h..<2h` (`exp(-2πi j / 2h)`).
    private let twiddleRe: [Float], twiddleIm: [Float]
    /// `exp(-2πi k / size)` for the split of the half-length transform.
    private let splitRe: [Float], splitIm: [Float]
    private var re: [Float], im: [Float]

    /// A transform for blocks of `size` samples (a power of two, at least 32).
    public init(size: Int) {
        precondition(size >= 32 && size & (size - 1) == 0, "size must be a power of two ≥ 32")
        self.size = size
        half = size / 2
        let bits = half.trailingZeroBitCount
        bitReversed = (0..<half).map { i in
            var r = 0
            for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            return r
        }
        var twiddleRe = [Float](repeating: 0, count: half), twiddleIm = [Float](repeating: 0, count: half)
        var h = 1
        while h < half {
            for j in 0..<h {
                let angle = -Double.pi * Double(j) / Double(h)
                twiddleRe[h + j] = Float(cos(angle))
                twiddleIm[h + j] = Float(sin(angle))
            }
            h *= 2
        }
        self.twiddleRe = twiddleRe
        self.twiddleIm = twiddleIm
        splitRe = (0...half).map { Float(cos(-2 * Double.pi * Double($0) / Double(size))) }
        splitIm = (0...half).map { Float(sin(-2 * Double.pi * Double($0) / Double(size))) }
        re = [Float](repeating: 0, count: half)
        im = [Float](repeating: 0, count: half)
    }

    /// Writes `|X[k]|²` for `k` in `0...size/2` of the block `x` (`size` samples) into `power`.
    public mutating func compute(_ x: UnsafePointer<Float>, into power: UnsafeMutablePointer<Float>) {
        let half = self.half
        re.withUnsafeMutableBufferPointer { reBuffer in
            im.withUnsafeMutableBufferPointer { imBuffer in
                let re = reBuffer.baseAddress!, im = imBuffer.baseAddress!
                // Even samples as the real part, odd as the imaginary part, in bit-reversed order.
                bitReversed.withUnsafeBufferPointer { order in
                    for n in 0..<half {
                        let target = order[n]
                        re[target] = x[2 * n]
                        im[target] = x[2 * n + 1]
                    }
                }
                twiddleRe.withUnsafeBufferPointer { wr in
                    twiddleIm.withUnsafeBufferPointer { wi in
                        Self.butterflies(re: re, im: im, count: half, wr: wr.baseAddress!, wi: wi.baseAddress!)
                    }
                }
                // Split the half-length transform Z into the spectrum X of the real signal.
                splitRe.withUnsafeBufferPointer { cr in
                    splitIm.withUnsafeBufferPointer { ci in
                        for k in 0...half {
                            let a = k % half, b = (half - k) % half
                            let zr = re[a], zi = im[a], yr = re[b], yi = -im[b]  // Z[k], conj(Z[N/2-k])
                            let er = 0.5 * (zr + yr), ei = 0.5 * (zi + yi)
                            // (Z[k] - conj(Z[N/2-k])) / 2i
                            let dr = 0.5 * (zi - yi), di = -0.5 * (zr - yr)
                            let xr = er + cr[k] * dr - ci[k] * di
                            let xi = ei + cr[k] * di + ci[k] * dr
                            power[k] = xr * xr + xi * xi
                        }
                    }
                }
            }
        }
    }

    private static func butterflies(
        re: UnsafeMutablePointer<Float>, im: UnsafeMutablePointer<Float>, count: Int,
        wr: UnsafePointer<Float>, wi: UnsafePointer<Float>
    ) {
        var h = 1
        while h < count {
            if h < 8 {
                var start = 0
                while start < count {
                    for j in 0..<h {
                        let a = start + j, b = a + h
                        let tr = wr[h + j] * re[b] - wi[h + j] * im[b]
                        let ti = wr[h + j] * im[b] + wi[h + j] * re[b]
                        re[b] = re[a] - tr; im[b] = im[a] - ti
                        re[a] += tr; im[a] += ti
                    }
                    start += 2 * h
                }
            } else {
                typealias V = SIMD8<Float>
                let rawRe = UnsafeMutableRawPointer(re), rawIm = UnsafeMutableRawPointer(im)
                let rawWr = UnsafeRawPointer(wr), rawWi = UnsafeRawPointer(wi)
                let stride = MemoryLayout<Float>.stride
                var start = 0
                while start < count {
                    var j = 0
                    while j < h {
                        let a = (start + j) * stride, b = a + h * stride, w = (h + j) * stride
                        let cr = rawWr.loadUnaligned(fromByteOffset: w, as: V.self)
                        let ci = rawWi.loadUnaligned(fromByteOffset: w, as: V.self)
                        let br = rawRe.loadUnaligned(fromByteOffset: b, as: V.self)
                        let bi = rawIm.loadUnaligned(fromByteOffset: b, as: V.self)
                        let ar = rawRe.loadUnaligned(fromByteOffset: a, as: V.self)
                        let ai = rawIm.loadUnaligned(fromByteOffset: a, as: V.self)
                        let tr = cr * br - ci * bi, ti = cr * bi + ci * br
                        rawRe.storeBytes(of: ar - tr, toByteOffset: b, as: V.self)
                        rawIm.storeBytes(of: ai - ti, toByteOffset: b, as: V.self)
                        rawRe.storeBytes(of: ar + tr, toByteOffset: a, as: V.self)
                        rawIm.storeBytes(of: ai + ti, toByteOffset: a, as: V.self)
                        j += 8
                    }
                    start += 2 * h
                }
            }
            h *= 2
        }
    }
}
