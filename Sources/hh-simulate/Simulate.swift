import ArgumentParser
import Foundation
import MediaFiles
import Simulation
import VitalsCore

/// `hh-simulate`: writes a synthetic patient video with known heart rate, for the demo and tests.
@main
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hh-simulate",
        abstract: "Write a synthetic patient video (.y4m) and its true heart rate per second (.csv).",
        discussion: "The same options and seed always give the same video."
    )

    @Option(help: "Output video (.y4m).") var out: String
    @Option(help: "Output truth CSV (t_s,hr_bpm); default: the video's name with .truth.csv.") var truth: String?
    @Option(help: "Frame width (even).") var width = 640
    @Option(help: "Frame height (even).") var height = 480
    @Option(help: "Frames per second.") var fps = 30
    @Option(help: "Length in seconds.") var duration = 60.0
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Heart rate in bpm (at the start, with --hr-end).") var hr = 72.0
    @Option(help: "Heart rate at the end: a linear change over the recording.") var hrEnd: Double?
    @Option(help: "Breathing rate in breaths per minute (0 for none).") var breathing = 15.0
    @Option(help: "Skin tone: light, medium or dark, or a Fitzpatrick type 1–6.") var skin = "light"
    @Option(help: "Who faces the camera: patient, photo or mannequin (the last two have no pulse).") var subject = "patient"
    @Option(help: "Camera: ideal (light level × reflectance, fixed noise) or kiosk-webcam (shot and read noise, gamma, auto-exposure and white balance).")
    var camera = "ideal"
    @Option(help: "Send the kiosk-webcam camera's frames as MJPEG of this JPEG quality (1–100; a webcam's is about 75), decoded as the kiosk does.")
    var mjpegQuality: Int?
    @Option(help: "Light level for the ideal camera: 1 is good light, 0.4 dim.") var light = 1.0
    @Option(help: "Illuminance on the face in lux for the kiosk-webcam camera: 400 an ordinary room, 80 a dim one.") var lux = 400.0
    @Option(help: "Lamp flicker depth (0–0.5).") var flicker = 0.0
    @Option(help: "Lamp flicker frequency in Hz.") var flickerHz = 1.0
    @Flag(help: "The flickering lamp lights the patient only; the wall behind stays in steady light.") var lampBeside = false
    @Option(help: "Slow illumination change over the recording (e.g. 0.3).") var drift = 0.0
    @Flag(help: "Head motion: sway, turning and leaning.") var motion = false
    @Flag(help: "Small fast movements of talking.") var talking = false
    @Flag(help: "A skin-coloured cabinet in view.") var furniture = false
    @Option(help: "Seconds with nobody in view, as START-END (repeatable).") var absent: [String] = []
    @Flag(help: "Write full-range (XCOLORRANGE=FULL) instead of limited-range samples.") var fullRange = false

    func run() throws {
        var s = Scenario()
        s.width = width
        s.height = height
        s.frameRate = Double(fps)
        s.duration = duration
        s.seed = seed
        s.heartRate = hrEnd.map { .ramp(from: hr, to: $0, start: 0, end: duration) } ?? .constant(hr)
        s.breathingRate = breathing > 0 ? breathing : nil
        switch skin {
        case "light": s.skinTone = .light
        case "medium": s.skinTone = .medium
        case "dark": s.skinTone = .dark
        case let type where Int(type).map((1...6).contains) == true: s.skinTone = .fitzpatrick(Int(type)!)
        default: throw ValidationError("--skin must be light, medium, dark or a Fitzpatrick type 1–6, got '\(skin)'")
        }
        guard let subject = Subject(rawValue: subject) else {
            throw ValidationError("--subject must be patient, photo or mannequin, got '\(subject)'")
        }
        s.subject = subject
        switch camera {
        case "ideal": s.camera = nil
        case "kiosk-webcam": s.camera = .kioskWebcam
        default: throw ValidationError("--camera must be ideal or kiosk-webcam, got '\(camera)'")
        }
        if let mjpegQuality {
            guard s.camera != nil, (1...100).contains(mjpegQuality) else {
                throw ValidationError("--mjpeg-quality needs --camera kiosk-webcam and a quality of 1–100")
            }
            s.camera?.mjpeg = MJPEGCompression(quality: mjpegQuality)
        }
        guard lux > 0 else { throw ValidationError("--lux must be positive") }
        guard (0...0.5).contains(flicker), flickerHz > 0 else { throw ValidationError("--flicker must be 0–0.5 and --flicker-hz positive") }
        guard abs(drift) < 1 else { throw ValidationError("--drift must be between -1 and 1 (exclusive)") }
        s.lux = lux
        s.lightLevel = light
        s.flickerDepth = flicker
        s.flickerFrequency = flickerHz
        s.lampLightsBackground = !lampBeside
        s.illuminationDrift = drift
        if motion {
            s.swayAmplitude = 20
            s.turnAmplitude = 0.3
            s.leanAmplitude = 0.1
        }
        s.talking = talking
        s.furniture = furniture
        s.absences = try absent.map { text in
            let parts = text.split(separator: "-").compactMap { Double($0) }
            guard parts.count == 2, parts[0] <= parts[1] else {
                throw ValidationError("--absent must be START-END in seconds, got '\(text)'")
            }
            return parts[0]...parts[1]
        }
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0 else {
            throw ValidationError("--width and --height must be positive and even")
        }
        guard fps > 0, duration > 0, light > 0 else { throw ValidationError("--fps, --duration and --light must be positive") }

        let simulator = PatientSimulator(scenario: s)
        let range: ColourRange = fullRange ? .full : .limited
        let writer = try Y4MWriter(
            path: out,
            header: Y4MHeader(width: width, height: height, frameRate: (fps, 1), colourSpace: .c420jpeg, fullRange: fullRange)
        )
        for index in 0..<simulator.frameCount {
            try writer.write(frame: simulator.frame(index, format: .i420, range: range))
        }
        try writer.close()
        let truthPath = truth ?? (out.hasSuffix(".y4m") ? String(out.dropLast(4)) : out) + ".truth.csv"
        try simulator.truthCSV().write(toFile: truthPath, atomically: true, encoding: .utf8)
        print("wrote \(out) (\(simulator.frameCount) frames) and \(truthPath)")
    }
}
