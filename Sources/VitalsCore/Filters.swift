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

    /// Filters `x` in place, forwards or (`backward`) from its last value to its first, starting
    /// from the steady state of the value it starts at. Generic over the sample so that several
    /// signals can run side by side in SIMD lanes, each lane with exactly a single signal's
    /// arithmetic (the recursion is a chain of dependent operations; lanes overlap them).
    func run<Sample: FilterSample>(_ x: UnsafeMutableBufferPointer<Sample>, backward: Bool) {
        guard !x.isEmpty else { return }
        let (b0, b1, b2, a1, a2) = (Sample(repeating: self.b0), Sample(repeating: self.b1), Sample(repeating: self.b2), Sample(repeating: self.a1), Sample(repeating: self.a2))
        let first = backward ? x[x.count - 1] : x[0]
        let gain = (self.b0 + self.b1 + self.b2) / (1 + self.a1 + self.a2)
        var x1 = first, x2 = first
        var y1 = first * Sample(repeating: gain), y2 = first * Sample(repeating: gain)
        var i = backward ? x.count - 1 : 0
        let step = backward ? -1 : 1
        for _ in 0..<x.count {
            let input = x[i]
            let y = b0 * input + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2 = x1
            x1 = input
            y2 = y1
            y1 = y
            x[i] = y
            i += step
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
        filtered(x, padding: padding)
    }

    /// Returns the signals in `x`'s lanes filtered, each exactly as ``apply(_:padding:)``
    /// filters it alone, at about the cost of one (the filter's recursion is latency-bound).
    public func apply(lanes x: [SIMD4<Double>], padding: Int) -> [SIMD4<Double>] {
        filtered(x, padding: padding)
    }

    private func filtered<Sample: FilterSample>(_ x: [Sample], padding: Int) -> [Sample] {
        guard x.count > 2 else { return x.map { _ in .zero } }
        let pad = min(padding, x.count - 1)
        var y: [Sample] = []
        y.reserveCapacity(x.count + 2 * pad)
        let two = Sample(repeating: 2)
        for i in stride(from: pad, to: 0, by: -1) { y.append(two * x[0] - x[i]) }
        y.append(contentsOf: x)
        for i in stride(from: x.count - 2, through: x.count - 1 - pad, by: -1) { y.append(two * x[x.count - 1] - x[i]) }
        y.withUnsafeMutableBufferPointer { buffer in
            for section in sections {
                section.run(buffer, backward: false)
                section.run(buffer, backward: true)
            }
        }
        return Array(y[pad..<(pad + x.count)])
    }
}

/// What ``Biquad`` filters: one signal's sample (`Double`) or several signals' side by side in
/// SIMD lanes.
protocol FilterSample {
    static var zero: Self { get }
    init(repeating value: Double)
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    static func * (lhs: Self, rhs: Self) -> Self
}

extension Double: FilterSample {
    init(repeating value: Double) { self = value }
}

extension SIMD4<Double>: FilterSample {}

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
