#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Whether the colour change at a frequency looks like blood's: a physiological check that no
/// spectral threshold can make.
///
/// More blood under the skin darkens green most and red least (haemoglobin absorbs green most;
/// Wang et al. 2017 give a pulse signature of about 0.33 : 0.77 : 0.53 in red, green and blue).
/// Normalised to each channel's mean, a camera's gamma curve and white balance keep these
/// proportions. So at a pulse's frequency the three channels move together, in phase, with green
/// the largest; a lamp's flicker moves them equally, camera noise and a skin-coloured object's
/// shimmer in no fixed way.
public enum BloodSignature {
    /// Whether the channels of `rgb` (uniformly sampled at `sampleRate`) at `frequency` Hz move
    /// as blood makes them: red and blue in phase with green (within 60°) and green the largest
    /// by at least a tenth.
    public static func matches(_ rgb: [SIMD3<Double>], frequency: Double, sampleRate: Double) -> Bool {
        let n = rgb.count
        guard n > 1 else { return false }
        let mean = rgb.reduce(SIMD3<Double>.zero, +) / Double(n)
        guard mean.x > 0, mean.y > 0, mean.z > 0 else { return false }
        // Each channel's complex amplitude at the frequency, Hann-windowed.
        var re = SIMD3<Double>.zero, im = SIMD3<Double>.zero
        for (i, c) in rgb.enumerated() {
            let hann = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n - 1))
            let phase = 2 * Double.pi * frequency * Double(i) / sampleRate
            let v = (c / mean - 1) * hann
            re += v * cos(phase)
            im -= v * sin(phase)
        }
        let magnitude = (re * re + im * im).squareRoot()
        guard magnitude.y > 0 else { return false }
        // Cosine of each channel's phase against green's.
        let alignment = (re * re.y + im * im.y) / (magnitude * magnitude.y)
        return alignment.x >= 0.5 && alignment.z >= 0.5 && magnitude.y >= 1.1 * max(magnitude.x, magnitude.z)
    }
}
