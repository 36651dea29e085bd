#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import VitalsCore

/// Renders synthetic video of a patient in front of a kiosk camera, with known truth.
///
/// The scene: a textured wall, optionally a skin-coloured wooden cabinet, and a head (face with
/// eyes, brows and mouth, dark hair, neck, shirt). Skin colour follows a simple reflection model:
/// `light × reflectance × (1 − a·s·v(t)) × shading × texture + specular`, where `v(t)` is the
/// blood volume (pulse and breathing), `s` the blood-volume-pulse colour signature (blood
/// absorbs green most, then blue, then red) and `a` a fraction of a percent. Shading follows
/// the head's pose under a fixed light, so motion changes it as it would on a real face.
/// Camera noise grows as the light dims (the camera raises its gain), and every frame is
/// quantised to 8 bits.
///
/// Frames can be rendered in any order; each is deterministic for the scenario's seed.
public struct PatientSimulator: Sendable {
    /// The recording being simulated.
    public let scenario: Scenario
    /// The simulated heart.
    public let heartbeat: Heartbeat

    private let background: [SIMD3<Float>]
    private let skinTexture: [Float]
    private let phases: [Double]
    /// With a ``CameraModel``: its settings and the illuminance, frame by frame.
    private let cameraSettings: [CameraModel.Setting]
    private let frameLux: [Double]

    /// Blood-volume-pulse signature (relative change of red, green, blue reflectance per unit
    /// of blood volume, green = 1), after Wang et al. 2017's PBV.
    static let pulseSignature = SIMD3<Float>(0.43, 1.0, 0.69)
    static let textureSize = 64

    /// Prepares the scene of `scenario`.
    public init(scenario: Scenario) {
        self.scenario = scenario
        heartbeat = Heartbeat(scenario: scenario)
        var random = RandomSource(seed: scenario.seed)
        phases = (0..<12).map { _ in random.uniform() * 2 * Double.pi }
        skinTexture = Self.smoothNoise(size: Self.textureSize, random: &random)
        let wallTexture = Self.smoothNoise(size: Self.textureSize, random: &random)

        let (w, h) = (scenario.width, scenario.height)
        var background = [SIMD3<Float>](repeating: .zero, count: w * h)
        let wall = SIMD3<Float>(0.50, 0.52, 0.56)
        let wood = SIMD3<Float>(0.86, 0.66, 0.48)
        for y in 0..<h {
            for x in 0..<w {
                let u = Float(x) / Float(w), v = Float(y) / Float(h)
                let t = Self.sample(wallTexture, u, v)
                var colour = wall * (0.85 + 0.15 * v) * (1 + 0.08 * t)
                if scenario.furniture, u > 0.74, u < 0.97, v > 0.42, v < 0.97 {
                    let grain = 1 + 0.05 * Float(sin(Double(u) * 140 + 3 * Double(t)))
                    colour = wood * grain * (0.92 + 0.08 * (1 - v))
                }
                background[y * w + x] = colour
            }
        }
        self.background = background
        if let camera = scenario.camera {
            let frames = 0..<Int((scenario.duration * scenario.frameRate).rounded(.down))
            let lux = frames.map { scenario.lux * Self.lightChange(scenario, at: Double($0) / scenario.frameRate) }
            // The camera meters the whole picture, which is mostly wall.
            let metered = frames.map { scenario.lux * Self.lightChange(scenario, at: Double($0) / scenario.frameRate, onWall: true) }
            let p = SIMD4((0..<4).map { _ in random.uniform() * 2 * Double.pi })
            cameraSettings = camera.settings(lux: metered, frameRate: scenario.frameRate, phases: p)
            frameLux = lux
        } else {
            cameraSettings = []
            frameLux = []
        }
    }

    /// The light on the patient relative to its nominal level at `t`: slow drift and the lamp's
    /// flicker; `onWall`, the light on the wall, without the flicker when the lamp does not light it.
    static func lightChange(_ s: Scenario, at t: Double, onWall: Bool = false) -> Double {
        let depth = onWall && !s.lampLightsBackground ? 0 : s.flickerDepth
        return (1 + s.illuminationDrift * (t / max(s.duration, 1) - 0.5)) * (1 + depth * sin(2 * Double.pi * s.flickerFrequency * t))
    }

    /// Number of frames in the recording.
    public var frameCount: Int { scenario.frameCount }

    /// Time of frame `index` in seconds.
    public func time(ofFrame index: Int) -> Double { Double(index) / scenario.frameRate }

    /// The true heart rate at `t` seconds, or `nil` while nobody is in view.
    public func trueHeartRate(at t: Double) -> Double? {
        scenario.pulsePresent(at: t) ? scenario.heartRate.bpm(at: t) : nil
    }

    /// The truth as CSV: `t_s,hr_bpm` for every whole second (empty rate while nobody is in view).
    public func truthCSV() -> String {
        var lines = ["t_s,hr_bpm"]
        var t = 0
        while Double(t) <= scenario.duration {
            let rate = trueHeartRate(at: Double(t)).map { String(format2: $0) } ?? ""
            lines.append("\(t),\(rate)")
            t += 1
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Frame `index` encoded in `format`.
    public func frame(_ index: Int, format: PixelFormat, range: ColourRange = .limited) -> [UInt8] {
        FrameEncoder.encode(rgb: renderRGB(frame: index), width: scenario.width, height: scenario.height, as: format, range: range)
    }

    /// Frame `index` as packed RGB bytes, as the camera delivers it (through its MJPEG
    /// compression when it has one).
    public func renderRGB(frame index: Int) -> [UInt8] {
        let rgb = renderUncompressedRGB(frame: index)
        guard let mjpeg = scenario.camera?.mjpeg else { return rgb }
        return mjpeg.roundTrip(rgb: rgb, width: scenario.width, height: scenario.height)
    }

    /// Frame `index` as packed RGB bytes before any compression.
    func renderUncompressedRGB(frame index: Int) -> [UInt8] {
        let s = scenario
        let t = time(ofFrame: index)
        let (w, h) = (s.width, s.height)
        let scale = Double(w) / 320
        var random = RandomSource(seed: s.seed ^ (UInt64(index) &* 0x2545_F491_4F6C_DD1D) ^ 0xABCDEF)

        // Light: level, slow drift, flicker; through the idealised camera or the camera model.
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let lightF = Float(s.lightLevel * Self.lightChange(s, at: t)) * 255
        let noise = Float(s.cameraNoise / s.lightLevel.squareRoot())
        var electrons: Float = 0, gain: Float = 1, balance = SIMD3<Float>(repeating: 1)
        if let camera = s.camera {
            let setting = cameraSettings[min(index, cameraSettings.count - 1)]
            electrons = Float(camera.fullWellElectrons * frameLux[min(index, frameLux.count - 1)] / camera.saturationLux * setting.exposure)
            gain = Float(setting.gain)
            balance = SIMD3(Float(setting.redGain), 1, Float(setting.blueGain))
        }
        /// Writes pixel `p` of reflected light `radiance` (relative to a white surface).
        func store(_ p: Int, _ radiance: SIMD3<Float>) {
            var v: SIMD3<Float>
            if let camera = s.camera {
                v = camera.expose(radiance, electronsPerUnit: electrons, gain: gain, whiteBalance: balance, random: &random)
            } else {
                v = radiance * lightF
                v.x += noise * random.fastGaussian()
                v.y += noise * random.fastGaussian()
                v.z += noise * random.fastGaussian()
            }
            v = v.rounded(.toNearestOrEven).clamped(lowerBound: .zero, upperBound: SIMD3(repeating: 255))
            out[3 * p] = UInt8(v.x)
            out[3 * p + 1] = UInt8(v.y)
            out[3 * p + 2] = UInt8(v.z)
        }

        // A lamp that does not light the wall: the wall keeps the light without its flicker.
        let onPatient = Self.lightChange(s, at: t)
        let wallLight = s.lampLightsBackground || onPatient <= 0 ? 1 : Float(Self.lightChange(s, at: t, onWall: true) / onPatient)
        guard s.patientPresent(at: t) else {
            for p in 0..<(w * h) { store(p, background[p] * wallLight) }
            return out
        }

        // Pose: a photo or a mannequin does not move, breathe or talk.
        let living = s.subject == .patient
        let ph = phases
        func wave(_ f: Double, _ k: Int) -> Double { living ? sin(2 * Double.pi * f * t + ph[k]) : 0 }
        var cx = Double(w) * 0.5 + s.swayAmplitude * scale * (0.6 * wave(0.13, 0) + 0.4 * wave(0.31, 1))
        var cy = Double(h) * 0.47 + 0.5 * s.swayAmplitude * scale * (0.6 * wave(0.11, 2) + 0.4 * wave(0.27, 3))
        let yaw = s.turnAmplitude * wave(0.17, 4)
        let size = 1 + s.leanAmplitude * wave(0.09, 5)
        if let breathing = s.breathingRate, living { cy += 0.8 * scale * sin(2 * Double.pi * breathing / 60 * t) }
        var mouthOpen = 0.0
        if s.talking, living {
            cx += 1.2 * scale * (wave(3.7, 6) + 0.5 * wave(5.3, 7))
            cy += 1.0 * scale * (wave(4.3, 8) + 0.5 * wave(2.9, 9))
            mouthOpen = max(0, 0.5 + 0.6 * wave(4.1, 10))
        }
        let rx = 0.13 * Double(w) * size, ry = rx * 1.3

        // Skin colour of this instant: reflectance with the blood volume's absorption.
        let volume = living ? Float(heartbeat.bloodVolume(at: t)) : 0
        let skin = s.skinTone.reflectance * (SIMD3(repeating: 1) - s.skinTone.pulseAmplitude * Self.pulseSignature * volume)
        let lips = SIMD3<Float>(0.62, 0.30, 0.30) * (SIMD3(repeating: 1) - 0.006 * Self.pulseSignature * volume)
        let hair = SIMD3<Float>(0.07, 0.06, 0.055), eye = SIMD3<Float>(0.30, 0.24, 0.22)
        let mouth = SIMD3<Float>(0.12, 0.04, 0.04), shirt = SIMD3<Float>(0.18, 0.28, 0.55)
        let lightDirection = SIMD3<Double>(-0.35, -0.45, 0.82) / (0.35 * 0.35 + 0.45 * 0.45 + 0.82 * 0.82).squareRoot()
        let (cosYaw, sinYaw) = (cos(yaw), sin(yaw))
        let featureShift = 0.8 * sinYaw
        let frame = SIMD3<Float>(0.05, 0.05, 0.06)

        for y in 0..<h {
            let dy = (Double(y) - cy) / ry
            for x in 0..<w {
                let p = y * w + x
                let dx = (Double(x) - cx) / rx
                let r2 = dx * dx + dy * dy
                let reflect: SIMD3<Float>
                var shade: Float = 1, specular: Float = 0
                if r2 <= 1 {
                    let u = dx - featureShift
                    let eyeL = ((u + 0.38) / 0.17) * ((u + 0.38) / 0.17) + ((dy + 0.12) / 0.08) * ((dy + 0.12) / 0.08)
                    let eyeR = ((u - 0.38) / 0.17) * ((u - 0.38) / 0.17) + ((dy + 0.12) / 0.08) * ((dy + 0.12) / 0.08)
                    let browL = ((u + 0.38) / 0.2) * ((u + 0.38) / 0.2) + ((dy + 0.3) / 0.045) * ((dy + 0.3) / 0.045)
                    let browR = ((u - 0.38) / 0.2) * ((u - 0.38) / 0.2) + ((dy + 0.3) / 0.045) * ((dy + 0.3) / 0.045)
                    let mouthHeight = 0.05 + 0.09 * mouthOpen
                    let lip = (u / 0.3) * (u / 0.3) + ((dy - 0.5) / mouthHeight) * ((dy - 0.5) / mouthHeight)
                    var hairLine = dy < -0.5 + 0.3 * dx * dx
                    if s.fringe, u < 0.35, dy < -0.3 + 0.06 * sin(u * 23) - 0.25 * max(0, u) { hairLine = true }
                    // Lambertian shading of an ellipsoid turned by the yaw, plus a little gloss.
                    let nz = (1 - r2).squareRoot()
                    let normal = SIMD3(dx * cosYaw - nz * sinYaw, dy, dx * sinYaw + nz * cosYaw)
                    let lambert = max(0, (normal * lightDirection).sum())
                    // A photo has its shading printed in, at a print's lower contrast, and no gloss.
                    shade = s.subject == .photo ? Float(0.55 + 0.35 * lambert) : Float(0.3 + 0.7 * lambert)
                    let highlight = max(0, (normal * SIMD3(-0.17, -0.22, 0.96)).sum())
                    specular = s.subject == .photo ? 0 : s.specular * Float(pow(highlight, 24))
                    // Glasses: a dark rim round each eye and a bridge; the lenses dim and reflect.
                    let lensL = ((u + 0.38) / 0.27) * ((u + 0.38) / 0.27) + ((dy + 0.12) / 0.18) * ((dy + 0.12) / 0.18)
                    let lensR = ((u - 0.38) / 0.27) * ((u - 0.38) / 0.27) + ((dy + 0.12) / 0.18) * ((dy + 0.12) / 0.18)
                    let rim = s.glasses && ((lensL > 0.78 && lensL <= 1) || (lensR > 0.78 && lensR <= 1) || (abs(u) < 0.12 && abs(dy + 0.14) < 0.025))
                    let lens = s.glasses && !rim && (lensL <= 0.78 || lensR <= 0.78)
                    if rim {
                        reflect = frame
                        specular *= 2
                    } else if hairLine || browL <= 1 || browR <= 1 {
                        reflect = hair
                        specular = 0
                    } else if eyeL <= 1 || eyeR <= 1 {
                        reflect = eye
                    } else if lip <= 1 {
                        reflect = lip < 0.35 * mouthOpen ? mouth : lips
                    } else {
                        let texture = 1 + 0.06 * Self.sample(skinTexture, Float(u * 0.5 + 0.5), Float(dy * 0.5 + 0.5))
                        reflect = skin * texture * (lens ? 0.85 : 1)
                        if lens { specular += 0.03 }
                    }
                } else if dx * dx + (dy + 0.08) * (dy + 0.08) <= 1.2 && dy < -0.1 {
                    reflect = hair
                } else if abs(dx) <= 0.48 && dy > 0.75 && dy <= 1.55 {
                    reflect = skin
                    shade = Float(0.55 + 0.1 * (1 - abs(dx)))
                } else if dy > 1.45 && abs(dx) <= 1.4 + (dy - 1.45) {
                    reflect = shirt
                    shade = 0.8
                } else {
                    store(p, background[p] * wallLight)
                    continue
                }
                store(p, reflect * shade + SIMD3(repeating: specular))
            }
        }
        return out
    }

    /// A smooth random field in −1…1 on a square grid (sum of bilinearly upsampled octaves).
    static func smoothNoise(size: Int, random: inout RandomSource) -> [Float] {
        var field = [Float](repeating: 0, count: size * size)
        var cells = 4, amplitude: Float = 0.6
        while cells <= size / 2 {
            let lattice = (0..<((cells + 1) * (cells + 1))).map { _ in Float(random.uniform() * 2 - 1) }
            for y in 0..<size {
                for x in 0..<size {
                    let fx = Float(x) / Float(size) * Float(cells), fy = Float(y) / Float(size) * Float(cells)
                    let ix = Int(fx), iy = Int(fy)
                    let ax = fx - Float(ix), ay = fy - Float(iy)
                    let a = lattice[iy * (cells + 1) + ix], b = lattice[iy * (cells + 1) + ix + 1]
                    let c = lattice[(iy + 1) * (cells + 1) + ix], d = lattice[(iy + 1) * (cells + 1) + ix + 1]
                    field[y * size + x] += amplitude * ((a * (1 - ax) + b * ax) * (1 - ay) + (c * (1 - ax) + d * ax) * ay)
                }
            }
            cells *= 2
            amplitude *= 0.5
        }
        return field
    }

    /// Samples a ``smoothNoise(size:random:)`` field at (u, v) in 0…1 (clamped), nearest point.
    static func sample(_ field: [Float], _ u: Float, _ v: Float) -> Float {
        let n = textureSize
        let x = min(n - 1, max(0, Int(u * Float(n)))), y = min(n - 1, max(0, Int(v * Float(n))))
        return field[y * n + x]
    }
}

extension String {
    /// `value` with two decimals.
    init(format2 value: Double) {
        let scaled = (value * 100).rounded()
        let sign = scaled < 0 ? "-" : ""
        let magnitude = Int(abs(scaled))
        let fraction = magnitude % 100
        self = "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
