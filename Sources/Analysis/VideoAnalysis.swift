import MediaFiles
import VitalsCore

/// Runs the vitals engine over a `.y4m` file: the adapter between ``MediaFiles`` and ``VitalsCore``.
public enum VideoAnalysis {
    /// What an analysis produced.
    public struct Result: Sendable {
        /// The file's header.
        public var header: Y4MHeader
        /// Frames analysed.
        public var frames: Int
        /// One estimate per second of video from the first complete window on.
        public var estimates: [VitalsEstimate]
    }

    /// The pixel format VitalsCore reads a Y4M colour space as.
    public static func pixelFormat(of space: Y4MColourSpace) -> PixelFormat {
        switch space {
        case .c420jpeg, .c420paldv, .c420mpeg2, .c420: .i420
        case .c422: .i422
        case .c444: .i444
        case .mono: .grey
        }
    }

    /// Analyses every frame of the file at `path`, streaming (one frame in memory at a time).
    ///
    /// Frame times come from the header's frame rate.
    ///
    /// - Throws: ``MediaFileError`` for an unreadable or malformed file, ``FrameError`` for a
    ///   frame size the format does not allow, ``ConfigurationError`` for bad settings.
    public static func analyze(path: String, configuration: VitalsConfiguration) throws -> Result {
        let reader = try Y4MReader(path: path)
        let header = reader.header
        if let reason = VitalsInput.unsupportedReason(width: header.width, height: header.height, framesPerSecond: header.framesPerSecond) {
            throw MediaFileError(.unsupported, reason)
        }
        let geometry = FrameGeometry(width: header.width, height: header.height, format: pixelFormat(of: header.colourSpace))
        var pipeline = try VitalsPipeline(
            geometry: geometry,
            range: header.fullRange ? .full : .limited,
            configuration: configuration
        )
        var estimates: [VitalsEstimate] = []
        var frame: [UInt8] = []
        let period = Double(header.frameRate.denominator) / Double(header.frameRate.numerator)
        while try reader.readFrame(into: &frame) {
            let time = Double(reader.framesRead - 1) * period
            estimates += try frame.withUnsafeBytes { try pipeline.process($0, at: time) }
        }
        estimates += pipeline.finish()
        return Result(header: header, frames: reader.framesRead, estimates: estimates)
    }
}
