import Simulation
import Testing
import VitalsCore

/// A webcam that sends MJPEG: every frame compressed (libjpeg-turbo, 4:2:0, quality 75) and
/// decoded as the kiosk decodes it, so the pipeline sees block means quantised to about a code
/// value and the camera's fine noise, which dithered them, mostly gone.
@Suite struct MJPEGCameraTests {
    /// A type III patient in ordinary light through the kiosk webcam, sent as MJPEG.
    static func compressed(seed: UInt64, _ change: (inout Scenario) -> Void = { _ in }) -> Scenario {
        var s = Scenario.kioskWebcam(seed: seed, duration: 30)
        s.skinTone = .fitzpatrick(3)
        change(&s)
        s.camera?.mjpeg = .kioskWebcam
        return s
    }

    @Test func aFrameIsSentAsAJPEGThatLosesTheCamerasFineNoise() throws {
        let scene = Self.compressed(seed: 1)
        var raw = scene
        raw.camera?.mjpeg = nil
        let (width, height) = (scene.width, scene.height)
        let original = PatientSimulator(scenario: raw).renderRGB(frame: 40)
        let sent = PatientSimulator(scenario: scene).renderRGB(frame: 40)
        let jpeg = MJPEGCompression.kioskWebcam.compress(rgb: original, width: width, height: height)
        #expect(Array(jpeg.prefix(2)) == [0xFF, 0xD8] && Array(jpeg.suffix(2)) == [0xFF, 0xD9], "a JPEG's start and end markers")
        #expect(jpeg.count * 5 < original.count, "compressed to \(jpeg.count) of \(original.count) bytes")
        #expect(sent.count == original.count)
        // Close to the frame, not equal to it.
        let difference = zip(sent, original).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(original.count)
        #expect(difference > 0.3 && difference < 6, "mean difference \(difference) code values")
        // In the middle of the face (green, a 64×64 square on the cheeks and nose), neighbours
        // differ less: the noise between them was in the coefficients quantised away.
        func roughness(_ rgb: [UInt8]) -> Double {
            var sum = 0.0, count = 0.0
            for y in (height / 2 - 32)..<(height / 2 + 32) {
                for x in (width / 2 - 32)..<(width / 2 + 32) {
                    let here = Double(rgb[3 * (y * width + x) + 1]), right = Double(rgb[3 * (y * width + x + 1) + 1])
                    sum += (here - right) * (here - right)
                    count += 1
                }
            }
            return (sum / count).squareRoot()
        }
        #expect(roughness(sent) < 0.8 * roughness(original), "neighbours' RMS difference \(roughness(sent)) against \(roughness(original))")
    }

    /// The kiosk reads an MJPEG camera's decoded RGB.
    static func score(_ scene: Scenario) throws -> PipelineScore {
        try PipelineEvaluation.score(scene, format: .rgb24, configurations: [VitalsConfiguration()])[0]
    }

    @Test func aLightSkinnedPatientIsStillReadThroughMJPEG() throws {
        let score = try Self.score(Self.compressed(seed: 2) {
            $0.skinTone = .fitzpatrick(2)
            $0.heartRate = .constant(96)
        })
        #expect(score.pulseWindows > 15)
        #expect(score.coverage >= 0.9, "\(score)")
        #expect(score.meanAbsoluteError <= 2, "\(score)")
    }

    /// The compression takes most of the colour's change (the chroma's pulse), which POS's fixed
    /// projections read, and keeps the brightness's: PBV tried after POS leans on what is kept.
    @Test func pbvAfterPOSReadsWhatTheCompressionLeft() throws {
        let scene = Self.compressed(seed: 2) { $0.heartRate = .constant(96) }
        var posAlone = VitalsConfiguration()
        posAlone.triesPBVAfterPOS = false
        let both = try PipelineEvaluation.score(scene, format: .rgb24, configurations: [VitalsConfiguration(), posAlone])
        let (engine, pos) = (both[0], both[1])
        #expect(engine.coverage >= 0.9, "\(engine)")
        #expect(engine.meanAbsoluteError <= 2, "\(engine)")
        #expect(pos.coverage <= 0.75, "POS alone: \(pos)")
    }

    /// Issue 16's bar on compressed video: type IV skin read in 90% of the seconds. In the vitals
    /// report (quality 75) type IV is read in 65% of the seconds (held-out: 73%; before PBV after
    /// POS 48% and 51%), where uncompressed it is read in all of them.
    @Test func darkerSkinThroughMJPEGIsReadInMostSeconds() throws {
        let score = try Self.score(Self.compressed(seed: 2) {
            $0.skinTone = .fitzpatrick(4)
            $0.heartRate = .constant(96)
        })
        withKnownIssue("MJPEG's quantised chroma: docs/VITALS.md, \"MJPEG\"") {
            #expect(score.coverage >= 0.9, "\(score)")
        }
        #expect(score.reported == 0 || score.meanAbsoluteError <= 2, "\(score)")
    }

    /// A scene without a pulse, as the report renders it, through MJPEG.
    static func withoutAPulse(seed: UInt64, _ change: (inout Scenario) -> Void) -> Scenario {
        var s = Scenario.kioskWebcam(seed: seed, duration: 30)
        change(&s)
        s.camera?.mjpeg = .kioskWebcam
        return s
    }

    @Test func aMannequinOrAnEmptyRoomThroughMJPEGGivesNoHeartRate() throws {
        let mannequin = Self.withoutAPulse(seed: 1) { $0.subject = .mannequin }
        let room = Self.withoutAPulse(seed: 1) { $0.absences = [0...10_000] }
        for scene in [mannequin, room] {
            let score = try Self.score(scene)
            #expect(score.noPulseWindows > 15)
            #expect(score.falseReports == 0, "\(score)")
        }
    }

    /// A camera whose white balance holds still, under a lamp: through MJPEG a flat surface's
    /// colour keeps to its quantiser's steps while the lamp moves its brightness, which puts the
    /// lamp's harmonics into the colours. Before they were fitted out the engine read them as a
    /// heart rate (120 or 180 bpm under a 1 Hz lamp, 240 under a 2 Hz one) in 54-100% of the
    /// report's seconds (docs/VITALS.md, "A lamp's harmonics").
    @Test func aLampsHarmonicsOnAPhotoOrAMannequinAreNotAHeartRate() throws {
        let photo = Self.withoutAPulse(seed: 1) {
            $0.subject = .photo
            $0.flickerDepth = 0.1
            $0.flickerFrequency = 1
            $0.camera?.whiteBalanceHunting = 0
        }
        let mannequin = Self.withoutAPulse(seed: 1) {
            $0.subject = .mannequin
            $0.flickerDepth = 0.1
            $0.flickerFrequency = 2
            $0.camera?.whiteBalanceHunting = 0
        }
        for scene in [photo, mannequin] {
            let score = try Self.score(scene)
            #expect(score.noPulseWindows > 15)
            #expect(score.falseReports == 0, "\(score)")
        }
    }

    /// Issue 16's bar: a heart rate in at most 1% of a scene's seconds without a pulse. Through
    /// MJPEG the camera's slow changes (its exposure hunting, its white balance) cross the blocks'
    /// quantisation steps and make steady tones in the band that the fit of the scene's changes
    /// no longer takes out: on this seed a photo reads about 49 bpm in 5 of 21 windows and a
    /// skin-coloured cabinet about 62 bpm in 11 (the report, tuning set: 7.9% and 17.5% of the
    /// seconds; a photo under a 1 Hz lamp 25.4%, 84 bpm in 5 of 21 windows on this seed).
    @Test func aPhotoOrACabinetThroughMJPEGGivesNoHeartRate() throws {
        let photo = Self.withoutAPulse(seed: 1) { $0.subject = .photo }
        let cabinet = Self.withoutAPulse(seed: 1) {
            $0.absences = [0...10_000]
            $0.furniture = true
        }
        let photoUnderALamp = Self.withoutAPulse(seed: 1) {
            $0.subject = .photo
            $0.flickerDepth = 0.1
            $0.flickerFrequency = 1
        }
        for scene in [photo, cabinet, photoUnderALamp] {
            let score = try Self.score(scene)
            #expect(score.noPulseWindows > 15)
            withKnownIssue("the camera's changes through MJPEG's quantisation: docs/VITALS.md, \"MJPEG\"") {
                #expect(score.falseReportRate <= 0.01, "\(score)")
            }
        }
    }
}
