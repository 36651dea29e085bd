import MediaFiles
import VoiceCore

/// Runs the voice activity detector over a WAV file: the adapter between ``MediaFiles`` and
/// ``VoiceCore``.
public enum AudioAnalysis {
    /// A stretch the detector decided is speech.
    public struct Segment: Sendable, Hashable {
        /// Start in seconds from the start of the file.
        public var start: Double
        /// End in seconds from the start of the file.
        public var end: Double
    }

    /// What an analysis produced.
    public struct Result: Sendable {
        /// The file's sample layout.
        public var format: WAVFormat
        /// Duration of the audio in seconds.
        public var duration: Double
        /// The detector's decision for every 10 ms frame, in order.
        public var speechFrames: [Bool]
        /// Runs of speech frames, in order.
        public var segments: [Segment]
    }

    /// Analyses the WAV file at `path`, streaming (one block in memory at a time). The audio is
    /// converted to 16 kHz mono first.
    ///
    /// - Throws: ``MediaFileError`` for an unreadable, malformed or truncated file.
    public static func analyze(path: String, configuration: VoiceActivityConfiguration = .init()) throws(MediaFileError) -> Result {
        let reader = try WAVReader(path: path)
        var converter = AudioConverter(sampleRate: reader.format.sampleRate, channelCount: reader.format.channelCount)
        var detector = VoiceActivityDetector(configuration: configuration)
        var speechFrames: [Bool] = []
        var block: [Float] = []
        var frames = 0
        while true {
            let got = try reader.read(maximumFrames: 8192, into: &block)
            if got == 0 { break }
            frames += got
            speechFrames += detector.process(converter.process(interleaved: block)).map(\.isSpeech)
        }
        speechFrames += detector.process(converter.finish()).map(\.isSpeech)
        speechFrames += detector.finish().map(\.isSpeech)
        let duration = Double(frames) / Double(reader.format.sampleRate)
        // The converter's flush can add a frame past the end of the file; drop it.
        let frameCount = Int((duration / VoiceActivityDetector.frameDuration).rounded(.up))
        if speechFrames.count > frameCount { speechFrames.removeLast(speechFrames.count - frameCount) }
        return Result(format: reader.format, duration: duration, speechFrames: speechFrames, segments: segments(of: speechFrames, duration: duration))
    }

    /// Runs of `true` in `frames` (10 ms each) as segments, the last clipped to `duration`.
    public static func segments(of frames: [Bool], duration: Double) -> [Segment] {
        var segments: [Segment] = []
        var start: Int?
        for (index, isSpeech) in frames.enumerated() {
            if isSpeech, start == nil { start = index }
            if !isSpeech, let first = start {
                segments.append(Segment(start: Double(first) * 0.01, end: Double(index) * 0.01))
                start = nil
            }
        }
        if let first = start {
            segments.append(Segment(start: Double(first) * 0.01, end: min(Double(frames.count) * 0.01, duration)))
        }
        return segments
    }
}
