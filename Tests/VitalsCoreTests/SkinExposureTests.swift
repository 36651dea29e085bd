import Simulation
import Testing
import VitalsCore

/// The skin box follows the brightness of the face: a face too dim for the classic box is found
/// whole, while ordinary skin in ordinary light keeps the box as drawn.
@Suite struct SkinExposureTests {
    @Test func dimmingMovesOnlyTheFloorAndTheGreyEdges() {
        let model = SkinModel()
        #expect(model.dimmed(to: 1) == model)
        let half = model.dimmed(to: 0.5)
        #expect(half.luma == 10...250)
        #expect(half.cr == 131...173)  // 128 + 5 × 0.5, rounded away from grey
        #expect(half.cb == 77...127)
        #expect(half.maximumRed == model.maximumRed)
    }

    @Test func theStepFollowsAFaceAndHoldsThroughSmallChanges() {
        var exposure = SkinExposure()
        // Ordinary skin, ordinary light: the box as drawn, however long.
        for _ in 0..<300 {
            let moved = exposure.update(faceLuma: 85, sceneLuma: 100)
            #expect(!moved)
        }
        #expect(exposure.step == 0)
        // The darkest skin (luma 34, 2.8 half-stops down) settles at step 3 within three seconds.
        var frames = 0
        while exposure.step != 3, frames < 200 {
            _ = exposure.update(faceLuma: 34, sceneLuma: 100)
            frames += 1
        }
        #expect(exposure.step == 3 && frames <= 90)
        // A lamp's 10% flicker does not move it.
        for i in 0..<300 {
            let moved = exposure.update(faceLuma: 34 * (1 + 0.1 * Double(i % 2)), sceneLuma: 100)
            #expect(!moved)
        }
        // Without a face, a dark room sets it (two stops down at most).
        var empty = SkinExposure()
        for _ in 0..<60 { _ = empty.update(faceLuma: nil, sceneLuma: 10) }
        #expect(empty.step == SkinExposure.darkestStep)
        let movedInTheDark = empty.update(faceLuma: nil, sceneLuma: 0)
        #expect(!movedInTheDark)
    }

    @Test func aFaceTooDimForTheClassicBoxIsFound() throws {
        // Type VI skin in half light through a camera that does not raise its exposure: its
        // luma (about 15) is under the box's floor, so the classic box finds no face at all.
        var scene = Scenario()
        scene.seed = 3
        scene.duration = 3
        scene.skinTone = .fitzpatrick(6)
        scene.lightLevel = 0.5
        let trace = try PipelineEvaluation.regionTrace(of: scene)
        let lastSecond = trace.regions.suffix(30)
        #expect(lastSecond.allSatisfy { $0.facePresent })
        #expect(lastSecond.allSatisfy { $0.skinPixels > 4_000 })

        let simulator = PatientSimulator(scenario: scene)
        let geometry = FrameGeometry(width: scene.width, height: scene.height, format: .i420)
        let accumulator = try SkinAccumulator(geometry: geometry)
        var grid = accumulator.makeGrid()
        var tracker = FaceTracker()
        let frame = simulator.frame(simulator.frameCount - 1, format: .i420, range: .limited)
        try frame.withUnsafeBytes { try accumulator.accumulate($0, into: &grid) }
        #expect(!tracker.track(grid).facePresent)
    }
}
