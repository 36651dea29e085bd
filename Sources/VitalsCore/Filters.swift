#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A second-order IIR section (RBJ cookbook form), run forward and backward for zero phase.
struct Biquad: Sendable {
    var b0, b1, b2, a1, a2: Double

    /// A Butterworth (Q = 1/√2) high-pass at `cutoff` Hz.
    static func highPass(cutoff: Double, sampleRate: Double) -> Biquad {
        let w = 2 * Double.pi * cutoff / sampleRate
        let alpha = sin(w) / 2.0.squareRoot()
        let c = cos(w), a0 = 1 + alpha
        return Biquad(b0: (1 + c) / 2 / a0, b1: -(1 + c) / a0, b2: (1 + c) / 2 / a0, a1: -2 * c / a0, a2: (1 - alpha) / a0)
    }

    /// A Butterworth (Q = 1/√2) low-pass at `cutoff` Hz.
    static func lowPass(cutoff: Double, sampleRate: Double) -> Biquad {
        let w = 2 * Double.pi * cutoff / sampleRate
        let alpha = sin(w) / 2.0.squareRoot()
        let c = cos(w), a0 = 1 + alpha
        return Biquad(b0: (1 - c) / 2 / a0, b1: (1 - c) / a0, b2: (1 - c) / 2 / a0, a1: -2 * c / a0, a2: (1 - alpha) / a0)
    }

    /// Filters `x` in place, starting from the steady state of its first value.
    func run(_ x: inout [Double]) {
        guard let first = x.first else { return }
        let gain = (b0 + b1 + b2) / (1 + a1 + a2)
        var x1 = first, x2 = first
        var y1 = first * gain, y2 = first * gain
        for i in x.indices {
            let input = x[i]
            let y = b0 * input + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2 = x1
            x1 = input
            y2 = y1
            y1 = y
            x[i] = y
        }
    }
}

/// Zero-phase band-pass filtering: cascaded Butterworth sections run forwards and backwards,
/// with the signal mirrored at both ends so the edges do not ring.
public struct BandPass: Sendable {
    /// Pass band in Hz.
    public let band: ClosedRange<Double>
    let sections: [Biquad]

    /// A band-pass of `order` sections per edge (each adds 12 dB/octave each way, doubled by zero phase).
    public init(band: ClosedRange<Double>, sampleRate: Double, order: Int = 2) {
        self.band = band
        var sections: [Biquad] = []
        for _ in 0..<order {
            sections.append(.highPass(cutoff: band.lowerBound, sampleRate: sampleRate))
            if band.upperBound < sampleRate / 2 * 0.95 {
                sections.append(.lowPass(cutoff: band.upperBound, sampleRate: sampleRate))
            }
        }
        self.sections = sections
    }

    /// Returns `x` filtered; mirrors `padding` samples at each end.
    public func apply(_ x: [Double], padding: Int) -> [Double] {
        guard x.count > 2 else { return x.map { _ in 0 } }
        let pad = min(padding, x.count - 1)
        var y: [Double] = []
        y.reserveCapacity(x.count + 2 * pad)
        for i in stride(from: pad, to: 0, by: -1) { y.append(2 * x[0] - x[i]) }
        y.append(contentsOf: x)
        for i in stride(from: x.count - 2, through: x.count - 1 - pad, by: -1) { y.append(2 * x[x.count - 1] - x[i]) }
        for section in sections {
            section.run(&y)
            y.reverse()
            section.run(&y)
            y.reverse()
        }
        return Array(y[pad..<(pad + x.count)])
    }
}

/// Small statistics helpers over `[Double]`.
enum Stats {
    static func mean(_ x: ArraySlice<Double>) -> Double { x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }
    static func mean(_ x: [Double]) -> Double { mean(x[...]) }

    static func standardDeviation(_ x: ArraySlice<Double>) -> Double {
        guard x.count > 1 else { return 0 }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }
    static func standardDeviation(_ x: [Double]) -> Double { standardDeviation(x[...]) }

    static func median(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return 0 }
        let s = x.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
