import Simulation
import Testing
import VitalsCore

/// A lamp that lights the patient and not the wall (or a face on a dark or plain backdrop): the
/// scene around the face shows no flicker, so only the face's own colours tell the lamp.
@Suite struct LampBesideThePatientTests {
    /// The report's kiosk-webcam scene at 640×480 under a 10% lamp at `hz` beside the subject.
    func scene(seed: UInt64, hz: Double, _ change: (inout Scenario) -> Void) -> Scenario {
        var s = Scenario.kioskWebcam(seed: seed, duration: 30)
        s.flickerDepth = 0.1
        s.flickerFrequency = hz
        s.lampLightsBackground = false
        change(&s)
        return s
    }

    @Test func aPhotoUnderALampBesideItIsNotReadAsAPulse() throws {
        // Taking the lamp from the wall alone, the engine read this lamp as a heart rate of 60 bpm
        // in every second (the 1 Hz tone that survives POS through the camera's gamma curve).
        let score = try PipelineEvaluation.score(scene(seed: 1, hz: 1) { $0.subject = .photo }, configurations: [VitalsConfiguration()])[0]
        #expect(score.noPulseWindows > 15)
        #expect(score.falseReports == 0, "\(score)")
    }

    @Test func aPatientUnderALampBesideItIsReadThroughIt() throws {
        // A heart at 96 bpm under a lamp at 120: POS alone, once the lamp was cancelled from the
        // face, kept too little of the pulse for the first half of the recording.
        let s = scene(seed: 2, hz: 2) {
            $0.skinTone = .fitzpatrick(2)
            $0.heartRate = .constant(96)
        }
        let score = try PipelineEvaluation.score(s, configurations: [VitalsConfiguration()])[0]
        #expect(score.coverage >= 0.9, "\(score)")
        #expect(score.meanAbsoluteError <= 1.5, "\(score)")
    }
}
