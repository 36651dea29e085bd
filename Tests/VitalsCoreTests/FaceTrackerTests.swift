import Simulation
import Testing
import VitalsCore

@Suite struct FaceTrackerTests {
    func region(_ scenario: Scenario, frame: Int = 0, format: PixelFormat = .i420, range: ColourRange = .limited) throws -> RegionSample {
        let simulator = PatientSimulator(scenario: scenario)
        let bytes = simulator.frame(frame, format: format, range: range)
        let accumulator = try SkinAccumulator(
            geometry: FrameGeometry(width: scenario.width, height: scenario.height, format: format),
            range: range
        )
        var grid = accumulator.makeGrid()
        try bytes.withUnsafeBytes { try accumulator.accumulate($0, into: &grid) }
        var tracker = FaceTracker()
        return tracker.track(grid)
    }

    @Test func findsTheFaceNotTheCabinet() throws {
        var s = Scenario()
        s.furniture = true
        let r = try region(s)
        #expect(r.facePresent)
        // The face is centred at (50%, 47%) of the frame; the cabinet is on the right.
        let centreX = Double(r.bounds.x) + Double(r.bounds.width) / 2
        let centreY = Double(r.bounds.y) + Double(r.bounds.height) / 2
        #expect(abs(centreX - 160) < 24)
        #expect(abs(centreY - 125) < 30)
        #expect(r.bounds.width < 160)
    }

    @Test func saysSoWhenNobodyIsThere() throws {
        var s = Scenario()
        s.absences = [0...10]
        #expect(try region(s).facePresent == false)
    }

    @Test(arguments: [PixelFormat.i420, .yuyv, .nv12, .rgb24, .bgr24, .i444])
    func meanColourIsTheSameInEveryFormatAndRange(format: PixelFormat) throws {
        var s = Scenario()
        s.cameraNoise = 0
        let reference = try region(s, format: .rgb24)
        for range in ColourRange.allCases {
            let r = try region(s, format: format, range: range)
            #expect(r.facePresent)
            let difference = r.meanRGB - reference.meanRGB
            // Rounding to 8-bit code values and chroma subsampling at skin edges move the mean a little.
            #expect(abs(difference.x) < 3 && abs(difference.y) < 3 && abs(difference.z) < 3, "\(format) \(range): \(r.meanRGB) vs \(reference.meanRGB)")
        }
    }

    @Test func followsTheFaceAsTheHeadMoves() throws {
        var s = Scenario()
        s.swayAmplitude = 25
        s.furniture = true
        let simulator = PatientSimulator(scenario: s)
        let accumulator = try SkinAccumulator(geometry: FrameGeometry(width: s.width, height: s.height, format: .i420))
        var grid = accumulator.makeGrid()
        var tracker = FaceTracker()
        var centres: [Double] = []
        for i in stride(from: 0, to: 300, by: 10) {
            grid.reset()
            try simulator.frame(i, format: .i420).withUnsafeBytes { try accumulator.accumulate($0, into: &grid) }
            let r = tracker.track(grid)
            #expect(r.facePresent)
            #expect(r.bounds.x + r.bounds.width < 240, "the cabinet starts at x = 237")
            centres.append(Double(r.bounds.x) + Double(r.bounds.width) / 2)
        }
        // The head sways: the followed region moves with it.
        #expect((centres.max() ?? 0) - (centres.min() ?? 0) > 10)
    }
}
