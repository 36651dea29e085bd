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
        var s = Scenario()
        (s.width, s.height) = (640, 480)
        s.camera = .kioskWebcam
        s.seed = 4
        s.duration = 30
        s.subject = .photo
        s.skinTone = .fitzpatrick(6)
        s.lux = 80
        var without = VitalsConfiguration()
        without.cancelsCameraChanges = false
        let scores = try PipelineEvaluation.score(s, configurations: [VitalsConfiguration(), without])
        #expect(scores[0].noPulseWindows > 15)
        #expect(scores[0].falseReports == 0, "\(scores[0])")
        #expect(scores[1].falseReports > 0, "the exposure's tone should show without the cancelling: \(scores[1])")
    }
}
