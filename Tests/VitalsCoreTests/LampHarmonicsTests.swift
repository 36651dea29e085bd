#if canImport(Glibc)
import Glibc
#endif
import Simulation
import Testing
import VitalsCore

/// A lamp's harmonics on a flat surface whose colour a webcam's MJPEG quantises: not a heart
/// rate. The analyzer cancels the lamp's own rate from the pulse; what the camera's non-linear
/// response makes of the lamp repeats with the lamp's period, so it lies on the lamp's
/// harmonics, and there the analyzer fits the harmonics out before it looks again.
@Suite struct LampHarmonicsTests {
    /// Linear colour of a light skin tone (a print of one, a mannequin's paint) in ordinary light.
    static let lightSkin = SIMD3<Double>(0.42, 0.27, 0.2)

    /// A flat skin-coloured surface's mean colour at 30 fps under a lamp flickering by 10% at
    /// `lamp` Hz, with blood darkening it along its signature by `depth` at `rate` bpm (0: a
    /// photo or a mannequin), as a webcam with a steady white balance sends it through MJPEG:
    /// the BT.709 gamma curve onto codes 16-235, then BT.601's brightness and colour differences.
    /// The surface's shading dithers its brightness across the quantiser's steps (here it is kept
    /// unquantised, with a little noise), but its colour differences (Cb, Cr) are the same over
    /// the whole surface, so they cross each step everywhere at once and keep to whole code
    /// values. The scene around it follows the lamp.
    static func compressedSurface(lamp lampRate: Double, depth: Double = 0, rate: Double = 0, seed: UInt64) -> [RegionSample] {
        var random = RandomSource(seed: seed)
        return (0..<(40 * 30)).map { i in
            let t = Double(i) / 30
            let light = 1 + 0.1 * sin(2 * Double.pi * lampRate * t)
            let linear = lightSkin * light * (SIMD3(repeating: 1) - depth * PulseMethod.bloodSignature * sin(2 * Double.pi * rate / 60 * t))
            let code = SIMD3<Double>((0..<3).map { c in 16 + 219 * (1.099 * pow(linear[c], 0.45) - 0.099) })
            let luma = 0.299 * code.x + 0.587 * code.y + 0.114 * code.z + 0.02 * random.gaussian()
            let blueDifference = (0.564 * (code.z - luma)).rounded(), redDifference = (0.713 * (code.x - luma)).rounded()
            let red = luma + redDifference / 0.713, blue = luma + blueDifference / 0.564
            let green = (luma - 0.299 * red - 0.114 * blue) / 0.587
            var sample = RegionSample(
                facePresent: true, meanRGB: SIMD3(red, green, blue), skinPixels: 20_000, bounds: PixelRect(width: 100, height: 120))
            sample.backgroundLuma = 120 * light * (1 + 0.001 * random.gaussian())
            return sample
        }
    }

    @Test(arguments: [1.0, 2.0])
    func aPhotoUnderALampGivesNoHeartRate(lamp: Double) throws {
        for seed in [1, 2, 3] as [UInt64] {
            let estimates = try FaceTraces.estimates(Self.compressedSurface(lamp: lamp, seed: seed), VitalsConfiguration())
            #expect(estimates.count > 25)
            #expect(estimates.allSatisfy { $0.heartRate == nil }, "seed \(seed): \(estimates.compactMap(\.heartRate))")
        }
    }

    /// A lamp whose rate does not divide the frame rate (1.37 Hz at 30 fps): the whole-code
    /// colour's staircase has harmonics far above the band, and sampled at 30 fps they fold into
    /// it away from the lamp's own multiples (the 20th, 27.4 Hz, lands at 2.6 Hz, 156 bpm). The
    /// engine reads those folded harmonics as a heart rate at 155-158 bpm in a few windows of each
    /// seed; fitting them out needs the reference's phase, not its powers (docs/VITALS.md, "A
    /// lamp's harmonics").
    @Test func aLampThatDoesNotDivideTheFrameRateFoldsItsHarmonicsIntoTheBand() throws {
        for seed in [1, 2, 3] as [UInt64] {
            let estimates = try FaceTraces.estimates(Self.compressedSurface(lamp: 1.37, seed: seed), VitalsConfiguration())
            #expect(estimates.count > 25)
            withKnownIssue("folded harmonics of a lamp off the frame rate's divisors") {
                #expect(estimates.allSatisfy { $0.heartRate == nil }, "seed \(seed): \(estimates.compactMap(\.heartRate))")
            }
        }
    }

    @Test(arguments: [(1.0, 67.0), (1.0, 124.0), (2.0, 84.0)])
    func aPatientUnderTheSameLampIsRead(lamp: Double, rate: Double) throws {
        var reported = 0, right = 0, windows = 0
        for seed in [1, 2, 3] as [UInt64] {
            let face = Self.compressedSurface(lamp: lamp, depth: 0.004, rate: rate, seed: seed)
            let estimates = try FaceTraces.estimates(face, VitalsConfiguration())
            let rates = estimates.compactMap(\.heartRate)
            windows += estimates.count
            reported += rates.count
            right += rates.filter { abs($0 - rate) <= 3 }.count
        }
        // Before the harmonics were fitted out, every window under the 1 Hz lamp read its harmonic
        // instead of the pulse. What the whole-code colour leaves of the pulse reads in
        // three windows of four or more here, at any of these rates (82% at 84 bpm under the
        // 2 Hz lamp, whose harmonic the pulse never met, before and after).
        #expect(right == reported && Double(reported) >= 0.7 * Double(windows), "\(right) right of \(reported) reported in \(windows) windows")
    }
}
