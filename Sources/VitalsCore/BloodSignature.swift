#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// How the three colour channels of a trace change at one frequency: each channel's amplitude
/// relative to its mean, and the cosine of its phase against green's.
struct ColourChange {
    /// Each channel's amplitude at the frequency, relative to the channel's mean (0.01: 1%).
    var amplitude: SIMD3<Double>
    /// The cosine of each channel's phase against green's (green's own is 1).
    var alignment: SIMD3<Double>

    /// The change of `rgb` (uniformly sampled at `sampleRate`) at `frequency` Hz, from each
    /// normalised channel's Hann-windowed Fourier coefficient; `nil` when the trace is too short,
    /// a channel's mean is not positive or green does not change at all.
    init?(_ rgb: [SIMD3<Double>], frequency: Double, sampleRate: Double) {
        let n = rgb.count
        guard n > 1 else { return nil }
        let mean = rgb.reduce(SIMD3<Double>.zero, +) / Double(n)
        guard mean.x > 0, mean.y > 0, mean.z > 0 else { return nil }
        var re = SIMD3<Double>.zero, im = SIMD3<Double>.zero
        for (i, c) in rgb.enumerated() {
            let hann = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n - 1))
            let phase = 2 * Double.pi * frequency * Double(i) / sampleRate
            let v = (c / mean - 1) * hann
            re += v * cos(phase)
            im -= v * sin(phase)
        }
        let magnitude = (re * re + im * im).squareRoot()
        guard magnitude.y > 0 else { return nil }
        // A tone of amplitude A gives a coefficient of A/2 times the Hann window's sum, (n − 1)/2.
        amplitude = magnitude * (4 / Double(n - 1))
        alignment = (re * re.y + im * im.y) / (magnitude * magnitude.y)
    }
}

/// Whether the colour change at a frequency looks like blood's: a physiological check that no
/// spectral threshold can make.
///
/// More blood under the skin darkens green most and red least (haemoglobin absorbs green most;
/// Wang et al. 2017 give a pulse signature of about 0.33 : 0.77 : 0.53 in red, green and blue).
/// Normalised to each channel's mean, a camera's gamma curve and white balance keep these
/// proportions. So at a pulse's frequency the three channels move together, in phase, with green
/// the largest; a lamp's flicker moves them equally (``LampSignature``), camera noise and a
/// skin-coloured object's shimmer in no fixed way.
public enum BloodSignature {
    /// Whether the channels of `rgb` (uniformly sampled at `sampleRate`) at `frequency` Hz move
    /// as blood makes them: red and blue in phase with green (within 60°) and green the largest
    /// by at least a tenth.
    public static func matches(_ rgb: [SIMD3<Double>], frequency: Double, sampleRate: Double) -> Bool {
        guard let change = ColourChange(rgb, frequency: frequency, sampleRate: sampleRate) else { return false }
        return change.alignment.x >= 0.5 && change.alignment.z >= 0.5
            && change.amplitude.y >= 1.1 * max(change.amplitude.x, change.amplitude.z)
    }
}

extension BloodSignature {
    /// Whether green changes at `frequency` Hz at least as much as red and blue, each relative to
    /// its mean: the part of blood's signature that survives a webcam's MJPEG, which quantises
    /// the colour's change in 16×16 blocks (a pulse's phases in red and blue are lost there, its
    /// green-led share of brightness is kept). A skin-coloured object's or a photo's shimmer
    /// through the blocks' quantisation mostly moves red or blue more (docs/VITALS.md, "MJPEG").
    public static func greenLeads(_ rgb: [SIMD3<Double>], frequency: Double, sampleRate: Double) -> Bool {
        guard let change = ColourChange(rgb, frequency: frequency, sampleRate: sampleRate) else { return false }
        return change.amplitude.y >= max(change.amplitude.x, change.amplitude.z)
    }
}

/// Whether the colour change at a frequency looks like a lamp's flicker on the face itself: all
/// three channels in phase and of about the same relative size (white light rising and falling),
/// and larger than a pulse makes them.
///
/// The engine takes a lamp's flicker from the scene around the face (``BackgroundLight``). Where
/// the scene shows none (a dark or plain backdrop, or a lamp that lights the patient and not the
/// wall) but the face flickers, the face's own brightness is the lamp's reference. A pulse
/// changes green about twice as much as red and at most about half a percent, so it is not taken
/// for a lamp.
public enum LampSignature {
    /// The smallest relative change (of green) taken for a lamp: 0.5%.
    public static let minimumAmplitude = 0.005

    /// Whether the channels of `rgb` (uniformly sampled at `sampleRate`) at `frequency` Hz move
    /// as white light makes them: in phase with green (within about 45°), red's relative amplitude
    /// within 0.6–1.67 times green's (blood's is below half) and blue's within 0.5–2 times (a
    /// camera's black level shrinks the relative change of a dark channel), and green's at least
    /// ``minimumAmplitude``.
    public static func matches(_ rgb: [SIMD3<Double>], frequency: Double, sampleRate: Double) -> Bool {
        guard let change = ColourChange(rgb, frequency: frequency, sampleRate: sampleRate) else { return false }
        let ratio = change.amplitude / change.amplitude.y
        return change.amplitude.y >= minimumAmplitude && change.alignment.x >= 0.7 && change.alignment.z >= 0.7
            && (0.6...1.67).contains(ratio.x) && (0.5...2).contains(ratio.z)
    }
}
