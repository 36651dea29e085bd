#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A kiosk webcam between the scene's light and the frame's bytes, as cheap cameras behave.
///
/// Light arrives in lux; the sensor turns it into electrons (photon shot noise, whose variance
/// is the signal itself, and read noise); auto-exposure lengthens the exposure up to one frame
/// time and then raises the analogue gain, which amplifies both noises, and it hunts: it reacts
/// a few frames late, in steps, and drifts slowly around its target; auto white balance drifts
/// the red and blue gains against each other; a BT.709 gamma curve and 8-bit quantisation
/// follow (the encoder then converts to limited-range BT.601 with subsampled chroma), or, with
/// `mjpeg`, each frame is sent as a JPEG and the kiosk decodes it.
public struct CameraModel: Sendable, Hashable {
    /// Electrons a pixel holds before it clips.
    public var fullWellElectrons = 4000.0
    /// Read noise, electrons RMS.
    public var readNoiseElectrons = 5.0
    /// Illuminance at which a white surface fills the well at one frame's exposure and unit gain.
    public var saturationLux = 1500.0
    /// Highest analogue gain.
    public var maximumGain = 16.0
    /// Linear level auto-exposure aims the scene's mean at (mid grey).
    public var exposureTarget = 0.18
    /// Mean linear reflectance of the scene auto-exposure meters (walls, clothes, face).
    public var sceneReflectance = 0.4
    /// Share of the exposure error corrected per frame, and the frames before the camera sees it.
    public var exposureResponse = 0.2, exposureDelayFrames = 3
    /// Exposure steps, in stops (cameras move exposure and gain in discrete steps).
    public var exposureStep = 1.0 / 32
    /// Peak relative wander of exposure around its target (slow hunting), and of the red and
    /// blue white-balance gains (in opposite directions).
    public var exposureHunting = 0.02, whiteBalanceHunting = 0.015
    /// The camera's MJPEG compression, or `nil` for uncompressed frames (YUYV).
    public var mjpeg: MJPEGCompression?

    /// A typical USB kiosk webcam.
    public static let kioskWebcam = CameraModel()

    /// A camera with the default settings.
    public init() {}

    /// How the camera is set for each frame: exposure (fraction of the frame time, at most 1),
    /// analogue gain, and the red and blue white-balance gains (green is 1).
    public struct Setting: Sendable {
        /// Exposure as a fraction of the frame time (at most 1), and the analogue gain (at least 1).
        public var exposure: Double, gain: Double
        /// White-balance gains of red and blue (green is 1).
        public var redGain: Double, blueGain: Double
    }

    /// Runs auto-exposure and white balance over a recording whose illuminance per frame is
    /// `lux`; `phases` are random phases for the hunting.
    public func settings(lux: [Double], frameRate: Double, phases: SIMD4<Double>) -> [Setting] {
        var settings: [Setting] = []
        settings.reserveCapacity(lux.count)
        // Exposure × gain: the factor that maps lux/saturationLux to linear output.
        var factor = exposureTarget / (sceneReflectance * max(lux.first ?? 1, 1e-3) / saturationLux)
        var applied: [Double] = []
        let huntRate = 0.15 + 0.25 * (phases.w / (2 * Double.pi))
        for n in lux.indices {
            let t = Double(n) / frameRate
            let seen = n >= exposureDelayFrames ? n - exposureDelayFrames : 0
            if n > 0 {
                let measured = sceneReflectance * (lux[seen] / saturationLux) * applied[seen]
                if measured > 0 { factor *= pow(exposureTarget / measured, exposureResponse) }
            }
            factor = min(maximumGain, max(1.0 / 256, factor))
            let hunt = 1 + exposureHunting * sin(2 * Double.pi * huntRate * t + phases.x)
            let stops = (log2(factor * hunt) / exposureStep).rounded() * exposureStep
            let total = min(maximumGain, exp2(stops))
            applied.append(total)
            let wander = whiteBalanceHunting * sin(2 * Double.pi * 0.6 * huntRate * t + phases.y)
            settings.append(Setting(exposure: min(1, total), gain: max(1, total), redGain: 1 + wander, blueGain: 1 - wander))
        }
        return settings
    }

    /// The BT.709 transfer curve on a table of 4096 steps over 0…1.
    static let gammaTable: [Float] = (0...4096).map { i in
        let l = Double(i) / 4096
        return Float(l < 0.018 ? 4.5 * l : 1.099 * pow(l, 0.45) - 0.099)
    }

    /// One pixel through the camera: `radiance` is the scene's reflected light relative to a
    /// white surface, `electronsPerUnit` the electrons a white surface gives at this frame's
    /// light and exposure. Returns 0–255 code values before rounding.
    @inline(__always)
    public func expose(_ radiance: SIMD3<Float>, electronsPerUnit: Float, gain: Float, whiteBalance: SIMD3<Float>, random: inout RandomSource)
        -> SIMD3<Float>
    {
        let electrons = (radiance * electronsPerUnit).clamped(lowerBound: .zero, upperBound: SIMD3(repeating: Float(fullWellElectrons)))
        let read = Float(readNoiseElectrons * readNoiseElectrons)
        var noisy = electrons
        noisy.x += (electrons.x + read).squareRoot() * random.fastGaussian()
        noisy.y += (electrons.y + read).squareRoot() * random.fastGaussian()
        noisy.z += (electrons.z + read).squareRoot() * random.fastGaussian()
        let linear = (noisy * (gain / Float(fullWellElectrons)) * whiteBalance).clamped(lowerBound: .zero, upperBound: SIMD3(repeating: 1))
        let table = Self.gammaTable
        func curve(_ v: Float) -> Float {
            let x = v * 4096
            let i = min(4095, Int(x))
            let f = x - Float(i)
            return table[i] + (table[i + 1] - table[i]) * f
        }
        return SIMD3(curve(linear.x), curve(linear.y), curve(linear.z)) * 255
    }
}
