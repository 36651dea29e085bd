/// Skin tones of simulated patients: reflectance in linear 0–1 RGB and how strongly the
/// pulse shows in it.
public struct SkinTone: Sendable, Hashable {
    /// Base reflectance, red, green, blue.
    public var reflectance: SIMD3<Float>
    /// Relative change of green reflectance per unit of blood volume; the simulated pulse wave
    /// spans about one unit peak to peak, so this is the pulse's peak-to-peak depth in green
    /// (a fraction of a percent).
    public var pulseAmplitude: Float

    /// Fitzpatrick I–II.
    public static let light = SkinTone(reflectance: SIMD3(0.90, 0.70, 0.58), pulseAmplitude: 0.006)
    /// Fitzpatrick III–IV.
    public static let medium = SkinTone(reflectance: SIMD3(0.75, 0.53, 0.40), pulseAmplitude: 0.005)
    /// Fitzpatrick V–VI: less light comes back and melanin hides part of the pulse.
    public static let dark = SkinTone(reflectance: SIMD3(0.42, 0.28, 0.20), pulseAmplitude: 0.004)

    /// The six Fitzpatrick skin types (1–6): less light comes back as melanin rises, and the
    /// pulse's share of what comes back shrinks, to about a quarter from type I to type VI
    /// (melanin absorbs in the epidermis, above the blood, so less light reaches the blood and
    /// returns). Types outside 1–6 are clamped.
    public static func fitzpatrick(_ type: Int) -> SkinTone {
        let tones: [SkinTone] = [
            SkinTone(reflectance: SIMD3(0.86, 0.68, 0.58), pulseAmplitude: 0.0060),
            SkinTone(reflectance: SIMD3(0.80, 0.60, 0.49), pulseAmplitude: 0.0052),
            SkinTone(reflectance: SIMD3(0.70, 0.50, 0.38), pulseAmplitude: 0.0043),
            SkinTone(reflectance: SIMD3(0.56, 0.38, 0.27), pulseAmplitude: 0.0034),
            SkinTone(reflectance: SIMD3(0.38, 0.24, 0.16), pulseAmplitude: 0.0024),
            SkinTone(reflectance: SIMD3(0.22, 0.13, 0.09), pulseAmplitude: 0.0016),
        ]
        return tones[min(5, max(0, type - 1))]
    }

    /// A tone with the given reflectance and pulse amplitude.
    public init(reflectance: SIMD3<Float>, pulseAmplitude: Float) {
        self.reflectance = reflectance
        self.pulseAmplitude = pulseAmplitude
    }
}

/// How the heart rate evolves over a simulated recording.
public struct HeartRateProfile: Sendable, Hashable {
    /// (time in seconds, heart rate in bpm) points, linearly interpolated, held at the ends.
    public var points: [SIMD2<Double>]

    /// A constant heart rate.
    public static func constant(_ bpm: Double) -> Self { Self(points: [SIMD2(0, bpm)]) }
    /// A linear change from `from` to `to` bpm between `start` and `end` seconds.
    public static func ramp(from: Double, to: Double, start: Double, end: Double) -> Self {
        Self(points: [SIMD2(start, from), SIMD2(end, to)])
    }

    /// Heart rate at time `t` seconds.
    public func bpm(at t: Double) -> Double {
        guard let first = points.first else { return 70 }
        if t <= first.x { return first.y }
        for (a, b) in zip(points, points.dropFirst()) where t <= b.x {
            return a.y + (b.y - a.y) * (t - a.x) / (b.x - a.x)
        }
        return points[points.count - 1].y
    }
}

/// What is in front of the camera.
public enum Subject: String, Sendable, Hashable, CaseIterable {
    /// A living patient: pulse, breathing and the chosen motion.
    case patient
    /// A printed photograph of a face: flat, its shading printed in, no pulse, no motion.
    case photo
    /// A mannequin head: skin-coloured and face-shaped, no blood, no motion.
    case mannequin
}

/// Everything that describes a simulated recording: the patient, the scene and the camera.
///
/// The defaults are a still, light-skinned patient at 72 bpm in good, steady light.
public struct Scenario: Sendable, Hashable {
    /// Frame width and height in pixels (even).
    public var width = 320, height = 240
    /// Frames per second.
    public var frameRate = 30.0
    /// Length in seconds.
    public var duration = 30.0
    /// Seed of every random choice: texture, noise, beat-to-beat variation, motion phases.
    public var seed: UInt64 = 1

    /// Heart rate over time.
    public var heartRate = HeartRateProfile.constant(72)
    /// Standard deviation of beat-to-beat interval changes at 72 bpm, in milliseconds
    /// (RMSSD ≈ √2 × this); it scales with the beat interval.
    public var beatVariability = 25.0
    /// Breathing rate in breaths per minute; `nil` for none.
    public var breathingRate: Double? = 15
    /// Skin tone.
    public var skinTone = SkinTone.light

    /// Slow sway of the head, in pixels at 320 px width (scaled with the frame).
    public var swayAmplitude = 0.0
    /// Turning of the head left and right, in radians.
    public var turnAmplitude = 0.0
    /// Leaning towards and away from the camera, as a relative change of face size.
    public var leanAmplitude = 0.0
    /// Small fast movements of talking: jaw and head jitter at 3–6 Hz, mouth opening.
    public var talking = false

    /// Who (or what) faces the camera.
    public var subject = Subject.patient
    /// Glasses: dark frames round the eyes, lenses that dim the skin behind them and reflect.
    public var glasses = false
    /// Hair falling over part of the forehead.
    public var fringe = false
    /// Strength of the specular highlight on forehead and nose (white, no pulse).
    public var specular: Float = 0.05

    /// The camera between the light and the bytes; `nil` for the idealised linear camera (light
    /// level × reflectance, with noise of a fixed size that grows as `lightLevel` falls).
    public var camera: CameraModel? = nil
    /// Illuminance on the face in lux when `camera` is set: about 500 in a bright room, 100 in
    /// a dim one, 30 in a dim corner. Flicker and drift act on it.
    public var lux = 400.0

    /// Light level; 1 is good office light, 0.5 dim (the camera raises gain: more noise).
    public var lightLevel = 1.0
    /// Relative flicker depth of the lamp; 0 for steady light.
    public var flickerDepth = 0.0
    /// Flicker frequency in Hz.
    public var flickerFrequency = 1.0
    /// Whether the flickering lamp lights the wall behind the patient as well as the patient;
    /// `false` for a lamp beside the patient with the wall in steady daylight, so only the
    /// patient (or whatever stands in their place) flickers.
    public var lampLightsBackground = true
    /// Relative change of light over the whole recording (slow drift), e.g. 0.3 for +30%.
    public var illuminationDrift = 0.0
    /// Camera noise, standard deviation in 8-bit levels at light level 1.
    public var cameraNoise = 2.0

    /// Stretches of time (seconds) when nobody is in front of the camera.
    public var absences: [ClosedRange<Double>] = []
    /// Whether a skin-coloured piece of furniture (a light wooden cabinet) is in view.
    public var furniture = false

    /// The default scenario.
    public init() {}

    /// The vitals report's scene: 640×480 through the kiosk webcam's camera model, `seed`,
    /// `duration` seconds, everything else the default's.
    public static func kioskWebcam(seed: UInt64, duration: Double) -> Scenario {
        var s = Scenario()
        (s.width, s.height) = (640, 480)
        s.camera = .kioskWebcam
        s.seed = seed
        s.duration = duration
        return s
    }

    /// Frames in the recording.
    public var frameCount: Int { Int((duration * frameRate).rounded(.down)) }

    /// Whether the patient is in view at time `t`.
    public func patientPresent(at t: Double) -> Bool { !absences.contains { $0.contains(t) } }

    /// Whether a pulse is in view at time `t`: a patient, not a photo or a mannequin.
    public func pulsePresent(at t: Double) -> Bool { subject == .patient && patientPresent(at: t) }
}
