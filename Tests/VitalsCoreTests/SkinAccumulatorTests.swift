import Simulation
import Testing
import VitalsCore

@Suite struct SkinAccumulatorTests {
    /// A simulated face frame (328 wide, so the last cell column goes through the scalar tail).
    static let simulator: PatientSimulator = {
        var s = Scenario()
        s.width = 328
        s.height = 242
        s.furniture = true
        return PatientSimulator(scenario: s)
    }()

    @Test(arguments: PixelFormat.all, ColourRange.allCases)
    func simdPathMatchesScalarReferenceExactly(format: PixelFormat, range: ColourRange) throws {
        let s = Self.simulator.scenario
        let frame = Self.simulator.frame(3, format: format, range: range)
        let accumulator = try SkinAccumulator(geometry: FrameGeometry(width: s.width, height: s.height, format: format), range: range)
        var simd = accumulator.makeGrid()
        var scalar = accumulator.makeGrid()
        try frame.withUnsafeBytes { bytes in
            try accumulator.accumulate(bytes, into: &simd)
            try accumulator.accumulateReference(bytes, into: &scalar)
        }
        #expect(simd.hasSameSums(as: scalar))
        let skin = simd.skinCount.reduce(0, +)
        if format.hasColour {
            // The face, neck and cabinet are skin-coloured: a good part of the frame, not all of it.
            #expect(skin > UInt32(s.width * s.height / 20))
            #expect(skin < UInt32(s.width * s.height / 2))
        } else {
            #expect(skin == 0)
        }
    }

    /// A frame of skin colour throughout, 1040 wide (32-pixel cells, whose lanes hold the most
    /// pixels, and a 16-pixel scalar tail): every block passes the chroma test and does all the
    /// work.
    @Test(arguments: PixelFormat.all)
    func aFrameOfSkinColourThroughoutMatchesTheReference(format: PixelFormat) throws {
        let (width, height) = (1040, 70)
        var random = RandomSource(seed: 11)
        let rgb = (0..<(width * height)).flatMap { _ -> [UInt8] in
            let shade = 0.75 + 0.25 * random.uniform()
            return [230, 160, 130].map { UInt8(Double($0) * shade) }
        }
        let frame = FrameEncoder.encode(rgb: rgb, width: width, height: height, as: format, range: .full)
        let accumulator = try SkinAccumulator(geometry: FrameGeometry(width: width, height: height, format: format), range: .full)
        var simd = accumulator.makeGrid(), scalar = accumulator.makeGrid()
        #expect(simd.cellSize == 32)
        try frame.withUnsafeBytes { bytes in
            try accumulator.accumulate(bytes, into: &simd)
            try accumulator.accumulateReference(bytes, into: &scalar)
        }
        #expect(simd.hasSameSums(as: scalar))
        let skin = simd.skinCount.reduce(0, +)
        #expect(format.hasColour ? skin > UInt32(width * height * 9 / 10) : skin == 0)
    }

    /// A patient at 1040 × 600 (32-pixel cells): blocks with and without a skin colour side by
    /// side in one cell.
    @Test(arguments: PixelFormat.all)
    func aPatientInThirtyTwoPixelCellsMatchesTheReference(format: PixelFormat) throws {
        var scenario = Scenario()
        (scenario.width, scenario.height) = (1040, 600)
        scenario.furniture = true
        let frame = PatientSimulator(scenario: scenario).frame(2, format: format)
        let accumulator = try SkinAccumulator(geometry: FrameGeometry(width: 1040, height: 600, format: format))
        var simd = accumulator.makeGrid(), scalar = accumulator.makeGrid()
        try frame.withUnsafeBytes { bytes in
            try accumulator.accumulate(bytes, into: &simd)
            try accumulator.accumulateReference(bytes, into: &scalar)
        }
        #expect(simd.hasSameSums(as: scalar))
        let skin = simd.skinCount.reduce(0, +)
        #expect(format.hasColour ? skin > 1040 * 600 / 50 && skin < 1040 * 600 / 2 : skin == 0)
    }

    @Test(arguments: [PixelFormat.yuyv, .nv12, .i420, .rgb24])
    func strideLargerThanRowIsHonoured(format: PixelFormat) throws {
        let s = Self.simulator.scenario
        let packed = Self.simulator.frame(5, format: format)
        let tight = FrameGeometry(width: s.width, height: s.height, format: format)
        // Pad every row of every plane by 64 bytes, as V4L2 drivers may.
        let padding = 64
        let padded = FrameGeometry(width: s.width, height: s.height, format: format, bytesPerLine: tight.bytesPerLine + padding)
        var bytes = [UInt8](repeating: 0xEE, count: padded.frameSize)
        let lumaRows = s.height
        for row in 0..<lumaRows {
            for i in 0..<tight.bytesPerLine { bytes[row * padded.bytesPerLine + i] = packed[row * tight.bytesPerLine + i] }
        }
        if format == .nv12 || format == .i420 {
            let chromaRows = s.height / 2
            let planes = format == .nv12 ? 1 : 2
            let tightChroma = format == .nv12 ? tight.bytesPerLine : tight.bytesPerLine / 2
            let paddedChroma = format == .nv12 ? padded.bytesPerLine : padded.bytesPerLine / 2
            for plane in 0..<planes {
                for row in 0..<chromaRows {
                    for i in 0..<tightChroma {
                        bytes[lumaRows * padded.bytesPerLine + plane * chromaRows * paddedChroma + row * paddedChroma + i] =
                            packed[lumaRows * tight.bytesPerLine + plane * chromaRows * tightChroma + row * tightChroma + i]
                    }
                }
            }
        }
        let a = try SkinAccumulator(geometry: tight)
        let b = try SkinAccumulator(geometry: padded)
        var ga = a.makeGrid(), gb = b.makeGrid(), gr = b.makeGrid()
        try packed.withUnsafeBytes { try a.accumulate($0, into: &ga) }
        try bytes.withUnsafeBytes {
            try b.accumulate($0, into: &gb)
            try b.accumulateReference($0, into: &gr)
        }
        #expect(ga.hasSameSums(as: gb))
        #expect(gb.hasSameSums(as: gr))
    }

    @Test func shortBufferIsAnErrorNotACrash() throws {
        let accumulator = try SkinAccumulator(geometry: FrameGeometry(width: 64, height: 48, format: .yuyv))
        var grid = accumulator.makeGrid()
        let short = [UInt8](repeating: 0, count: 64 * 48 * 2 - 1)
        #expect(throws: FrameError.self) { try short.withUnsafeBytes { try accumulator.accumulate($0, into: &grid) } }
    }

    @Test func geometryThatDoesNotSuitTheFormatIsRejected() {
        #expect(throws: FrameError.self) { try SkinAccumulator(geometry: FrameGeometry(width: 63, height: 48, format: .yuyv)) }
        #expect(throws: FrameError.self) { try SkinAccumulator(geometry: FrameGeometry(width: 64, height: 47, format: .nv12)) }
        #expect(throws: FrameError.self) {
            try SkinAccumulator(geometry: FrameGeometry(width: 64, height: 48, format: .rgb24, bytesPerLine: 100))
        }
        #expect(throws: FrameError.self) { try SkinAccumulator(geometry: FrameGeometry(width: 0, height: 48, format: .i420)) }
    }
}
