#if canImport(Glibc)
import Glibc
#endif

/// Levels of a frame of 16-bit samples (full scale 32768), shared by the canceller's meters and
/// judgements.
public enum FrameLevel {
    /// Sum of the squared samples.
    public static func energy(_ samples: [Int16]) -> Double {
        samples.reduce(0.0) { $0 + Double($1) * Double($1) }
    }

    /// Mean of the squared samples (0 for an empty frame).
    public static func meanSquare(_ samples: [Int16]) -> Double {
        energy(samples) / Double(max(1, samples.count))
    }

    /// Root mean square.
    public static func rms(_ samples: [Int16]) -> Double { meanSquare(samples).squareRoot() }

    /// An RMS level in dBFS (floored at 1, about -90 dBFS).
    public static func dbfs(rms: Double) -> Double { 20 * log10(max(rms, 1) / 32_768) }
}
