import Simulation
import Testing
import VitalsCore

/// What a kiosk webcam does to the whole picture: in dim light its auto-exposure hunts in
/// steps, which makes a few tones inside the heart-rate band, in the background and the face
/// alike, none standing out as a lamp's flicker would.
@Suite struct CameraChangeTests {
    @Test func exposureHuntingOnAPhotoOfDarkSkinIsNotReadAsAPulse() throws {
        // The scene (a print of type VI skin at 80 lux, kiosk webcam at 640×480) and seed on which
        // the engine without the camera's changes cancelled reported 161 bpm: the auto-exposure's
        // tone, at +0.1 dB in its 10 s window.
        var s = Scenario.kioskWebcam(seed: 4, duration: 30)
        s.subject = .photo
        s.skinTone = .fitzpatrick(6)
        s.lux = 80
        // Either of the two aids against the camera's changes holds it alone: cancelling the
        // scene's brightness from the pulse, or fitting it out of the colours first.
        var onlyFitted = VitalsConfiguration()
        onlyFitted.cancelsCameraChanges = false
        var without = onlyFitted
        without.cancelsSceneChanges = false
        var onlyCancelled = VitalsConfiguration()
        onlyCancelled.cancelsSceneChanges = false
        let scores = try PipelineEvaluation.score(s, configurations: [VitalsConfiguration(), onlyFitted, onlyCancelled, without])
        #expect(scores[0].noPulseWindows > 15)
        for score in scores.prefix(3) { #expect(score.falseReports == 0, "\(score)") }
        #expect(scores[3].falseReports > 0, "the exposure's tone should show without either: \(scores[3])")
    }

    @Test func exposureStepsOnDarkSkinAreFittedOutOfTheColours() throws {
        // Type V skin in ordinary light: each of the auto-exposure's steps moves the face's code
        // values in proportion above the black level, so the face's mean colour, normalised by
        // its own mean, changes colour as well as brightness. The wall around the face steps with
        // it; fitted out of each colour (with the skin mask's size), the pulse is read in at least
        // 95% of the seconds (all of them on this seed); without the fit, 86% of them.
        var s = Scenario.kioskWebcam(seed: 1, duration: 30)
        s.skinTone = .fitzpatrick(5)
        s.heartRate = .constant(94)
        var without = VitalsConfiguration()
        without.cancelsSceneChanges = false
        let scores = try PipelineEvaluation.score(s, configurations: [VitalsConfiguration(), without])
        #expect(scores[0].coverage >= 0.95, "\(scores[0])")
        #expect(scores[0].meanAbsoluteError <= 1, "\(scores[0])")
        #expect(scores[1].coverage <= 0.9, "without the fit: \(scores[1])")
    }
}
