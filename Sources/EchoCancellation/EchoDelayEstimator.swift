#if canImport(Glibc)
import Glibc
#endif

/// Finds where the speaker's echo lies in the microphone's signal, relative to the reference the
/// canceller is given, from the loudness of the two in 10 ms frames: speech's rise and fall
/// (syllables, words, pauses) shows in the microphone's loudness a fixed number of frames after
/// it shows in the reference's.
///
/// The canceller models an echo only if it comes after its reference and within its tail; when
/// the two sides' timestamps are off (a thread scheduled late, a device that misreports its
/// delay), the echo can come before the reference and is then never cancelled. This estimate
/// says by how much, independently of any timestamp.
///
/// The loudness is taken in dB (floored at ``floor``), so a loud echo does not outweigh a quiet
/// one; the lag is the one whose normalised correlation is highest, over the frames kept
/// (``history``).
public struct EchoDelayEstimator: Sendable {
    /// A lag found: the echo is `lag` frames after the reference (negative: before it, which the
    /// canceller cannot model), with normalised correlation `correlation` (-1…1).
    public struct Estimate: Sendable, Equatable {
        /// Frames (10 ms) from the reference to its echo.
        public var lag: Int
        /// How well the two loudness curves match at that lag.
        public var correlation: Double
    }

    /// Frames kept (3 s at 10 ms).
    public static let history = 300
    /// Loudness floor, dB of the frame's energy per sample (full scale 32768): -70 dBFS.
    public static let floor = 20 * log10(32_768.0) - 70
    /// Reference frames louder than this (dB, as ``floor``) count as the speaker playing: the
    /// ERLE meter's threshold (``EchoReturnLossMeter/activeReference``, about -50 dBFS).
    static let activeLoudness = 20 * log10(EchoReturnLossMeter.activeReference)

    /// The lags searched, frames either way.
    public let maxLag: Int
    private var microphone: [Double] = []
    private var reference: [Double] = []

    /// An estimator searching lags up to `maxLag` frames either way.
    public init(maxLag: Int = 40) {
        self.maxLag = maxLag
    }

    /// Frames kept in which the speaker played.
    public var activeFrames: Int {
        reference.count { $0 >= Self.activeLoudness }
    }

    /// Takes one frame of each side, the reference as given to the canceller with it.
    public mutating func add(microphone frame: [Int16], reference played: [Int16]) {
        microphone.append(Self.loudness(frame))
        reference.append(Self.loudness(played))
        if microphone.count > Self.history {
            microphone.removeFirst(microphone.count - Self.history)
            reference.removeFirst(reference.count - Self.history)
        }
    }

    /// Forgets the frames kept (the alignment changed).
    public mutating func reset() {
        microphone.removeAll(keepingCapacity: true)
        reference.removeAll(keepingCapacity: true)
    }

    /// The lag at which the microphone's loudness best follows the reference's; nil with fewer
    /// than `maxLag` × 2 + 10 frames kept.
    public func estimate() -> Estimate? {
        let count = microphone.count
        guard count >= 2 * maxLag + 10 else { return nil }
        var best: Estimate?
        for lag in -maxLag...maxLag {
            // microphone[t] against reference[t - lag], over the t where both exist
            let from = max(0, lag), to = min(count, count + lag)
            let correlation = Self.correlation(microphone[from..<to], reference[(from - lag)..<(to - lag)])
            if correlation > (best?.correlation ?? -.infinity) { best = Estimate(lag: lag, correlation: correlation) }
        }
        return best
    }

    private static func loudness(_ frame: [Int16]) -> Double {
        max(floor, 10 * log10(max(FrameLevel.meanSquare(frame), 1e-3)))
    }

    private static func correlation(_ a: ArraySlice<Double>, _ b: ArraySlice<Double>) -> Double {
        let n = Double(a.count)
        guard n > 1 else { return 0 }
        let meanA = a.reduce(0, +) / n, meanB = b.reduce(0, +) / n
        var product = 0.0, powerA = 0.0, powerB = 0.0
        for (x, y) in zip(a, b) {
            product += (x - meanA) * (y - meanB)
            powerA += (x - meanA) * (x - meanA)
            powerB += (y - meanB) * (y - meanB)
        }
        return powerA > 0 && powerB > 0 ? product / (powerA * powerB).squareRoot() : 0
    }
}
