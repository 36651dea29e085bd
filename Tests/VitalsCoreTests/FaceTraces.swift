#if canImport(Glibc)
import Glibc
#endif
import Simulation
import VitalsCore

/// What the trace-level tests share: dark skin as a camera sees it in shot noise, and the
/// analyzer run over 30 fps samples.
enum FaceTraces {
    /// Linear colour of dark skin (type V-VI) in ordinary light: blue is the darkest channel.
    static let darkSkin = SIMD3<Double>(0.10, 0.059, 0.04)

    /// A face's linear colour as the camera encodes it: shot noise whose relative size grows as
    /// the channel darkens (blue is the noisiest), then the BT.709 gamma curve (whose offset
    /// changes dark channels more than light ones), on a 0-255 scale.
    static func encode(_ linear: SIMD3<Double>, random: inout RandomSource) -> SIMD3<Double> {
        var encoded = SIMD3<Double>.zero
        for c in 0..<3 {
            let noisy = linear[c] * (1 + 0.0004 / linear[c].squareRoot() * random.gaussian())
            encoded[c] = 255 * (1.099 * pow(max(noisy, 0), 0.45) - 0.099)
        }
        return encoded
    }

    /// The analyzer's estimates over `samples` taken at 30 fps, the last windows included.
    static func estimates(_ samples: [RegionSample], _ configuration: VitalsConfiguration) throws -> [VitalsEstimate] {
        var analyzer = try VitalsAnalyzer(configuration: configuration)
        var out: [VitalsEstimate] = []
        for (i, sample) in samples.enumerated() { out += analyzer.add(sample, at: Double(i) / 30) }
        return out + analyzer.finish()
    }
}
