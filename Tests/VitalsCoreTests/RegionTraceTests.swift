import Simulation
import Testing
import VitalsCore

/// A recorded region trace replays exactly what the pipeline would have said, reads back
/// exactly, and a damaged one is refused with the line and the reason.
@Suite struct RegionTraceTests {
    /// A short patient under a flickering lamp through the kiosk webcam: the background's
    /// brightness matters to the analyzer here, so a trace that lost it would not replay alike.
    static let scene: Scenario = {
        var s = Scenario()
        (s.width, s.height) = (320, 240)
        s.camera = .kioskWebcam
        s.seed = 5
        s.duration = 14
        s.heartRate = .constant(77)
        s.flickerDepth = 0.1
        s.flickerFrequency = 1
        return s
    }()

    @Test func replayingATraceSaysWhatThePipelineSaid() throws {
        var withoutLamp = VitalsConfiguration()
        withoutLamp.cancelsFlicker = false
        let configurations = [VitalsConfiguration(), withoutLamp, .plain]
        let simulator = PatientSimulator(scenario: Self.scene)
        let geometry = FrameGeometry(width: Self.scene.width, height: Self.scene.height, format: .i420)
        var pipelines = try configurations.map { try VitalsPipeline(geometry: geometry, configuration: $0) }
        var direct = [[VitalsEstimate]](repeating: [], count: configurations.count)
        for i in 0..<simulator.frameCount {
            let frame = simulator.frame(i, format: .i420, range: .limited)
            try frame.withUnsafeBytes { bytes in
                for k in pipelines.indices { direct[k] += try pipelines[k].process(bytes, at: simulator.time(ofFrame: i)) }
            }
        }
        for k in pipelines.indices { direct[k] += pipelines[k].finish() }

        let trace = try PipelineEvaluation.regionTrace(of: Self.scene)
        let reread = try RegionTrace(csv: trace.csv)
        #expect(reread == trace)
        for (configuration, estimates) in zip(configurations, direct) {
            #expect(estimates.count == 5)
            #expect(try PipelineEvaluation.replay(reread, configuration: configuration) == estimates)
        }
        #expect(direct[0].contains { $0.heartRate != nil })
    }

    @Test(arguments: [
        ("t,r,g,b\n0,1,2,3\n", 1, "header"),
        ("\(RegionTrace.header)\n0,1,2,3\n", 2, "4 fields"),
        ("\(RegionTrace.header)\n0,1,1,1,1,1,1,1,1,1,1,1,10,0,0,5,5\n0,1,1,1,1,1,1,1,1,1,1,1,10,0,0,5,5\n", 3, "does not follow"),
        ("\(RegionTrace.header)\n0,2,1,1,1,1,1,1,1,1,1,1,10,0,0,5,5\n", 2, "face must be 0 or 1"),
        ("\(RegionTrace.header)\n0,1,1,nan,1,1,1,1,1,1,1,1,10,0,0,5,5\n", 2, "not a number"),
        ("\(RegionTrace.header)\n0,1,1,x,1,1,1,1,1,1,1,1,10,0,0,5,5\n", 2, "not a number"),
        ("\(RegionTrace.header)\n0,1,1,1,1,1,1,1,1,1,1,1,10.5,0,0,5,5\n", 2, "whole numbers"),
    ])
    func aDamagedTraceIsRefusedWithItsLine(text: String, line: Int, reason: String) {
        #expect {
            _ = try RegionTrace(csv: text)
        } throws: { error in
            guard let error = error as? RegionTraceError else { return false }
            return error.line == line && error.reason.contains(reason)
        }
    }
}
