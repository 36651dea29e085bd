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

    /// Analyses the WAV file at `path`, streaming (one block in memory at a time, and the
    /// file's opening, with which the detector is primed: ``VoiceActivityDetector/prime(withOpening:)``).
    /// The audio is converted to 16 kHz mono first.
    ///
    /// - Throws: ``MediaFileError`` for an unreadable, malformed or truncated file.
    public static func analyze(path: String, configuration: VoiceActivityConfiguration = .init()) throws(MediaFileError) -> Result {
        var reader = try MonoAudioReader(path: path)
        var detector = VoiceActivityDetector(configuration: configuration)
        let opening = try Self.opening(of: &reader)
        detector.prime(withOpening: opening[...])
        var speechFrames = detector.process(opening).map(\.isSpeech)
        while let samples = try reader.next() {
            speechFrames += detector.process(samples).map(\.isSpeech)
        }
        speechFrames += detector.finish().map(\.isSpeech)
        let duration = reader.secondsRead
        // The converter's flush can add a frame past the end of the file; drop it.
        let frameCount = Int((duration / VoiceActivityDetector.frameDuration).rounded(.up))
        if speechFrames.count > frameCount { speechFrames.removeLast(speechFrames.count - frameCount) }
        return Result(format: reader.format, duration: duration, speechFrames: speechFrames, segments: segments(of: speechFrames, duration: duration))
    }

    /// The utterances the kiosk would cut from the WAV file at `path` as voice turns (padding
    /// included), as segments; `speechFrames` marks the frames they cover. Streaming, like
    /// ``analyze(path:configuration:)``, the detector primed the same way.
    ///
    /// - Throws: ``MediaFileError`` for an unreadable, malformed or truncated file.
    public static func utterances(path: String, configuration: UtteranceConfiguration = .init()) throws(MediaFileError) -> Result {
        var reader = try MonoAudioReader(path: path)
        var segmenter = UtteranceSegmenter(configuration: configuration)
        let opening = try Self.opening(of: &reader)
        segmenter.prime(withOpening: opening[...])
        // Only the times are kept: an utterance's audio is dropped as soon as it is complete.
        var spans = segmenter.process(opening).map { Segment(start: $0.startTime, end: $0.endTime) }
        while let samples = try reader.next() {
            spans += segmenter.process(samples).map { Segment(start: $0.startTime, end: $0.endTime) }
        }
        spans += segmenter.finish().map { Segment(start: $0.startTime, end: $0.endTime) }
        let duration = reader.secondsRead
        let segments = spans.map { Segment(start: $0.start, end: min($0.end, duration)) }
        var speechFrames = [Bool](repeating: false, count: Int((duration / VoiceActivityDetector.frameDuration).rounded(.up)))
        for segment in segments {
            let first = Int((segment.start / VoiceActivityDetector.frameDuration).rounded())
            let last = min(speechFrames.count, Int((segment.end / VoiceActivityDetector.frameDuration).rounded()))
            if first < last { for i in first..<last { speechFrames[i] = true } }
        }
        return Result(format: reader.format, duration: duration, speechFrames: speechFrames, segments: segments)
    }

    /// The first ``VoiceActivityDetector/primingDuration`` seconds of the file (or all of it),
    /// read from `reader`.
    static func opening(of reader: inout MonoAudioReader) throws(MediaFileError) -> [Float] {
        let wanted = Int(VoiceActivityDetector.primingDuration * Double(VoiceFeatures.sampleRate))
        var opening: [Float] = []
        while opening.count < wanted, let samples = try reader.next() { opening += samples }
        return opening
    }

    /// Runs of `true` in `frames` (one per detector frame) as segments, the last clipped to
    /// `duration`.
    public static func segments(of frames: [Bool], duration: Double) -> [Segment] {
        let frameDuration = VoiceActivityDetector.frameDuration
        var segments: [Segment] = []
        var start: Int?
        for (index, isSpeech) in frames.enumerated() {
            if isSpeech, start == nil { start = index }
            if !isSpeech, let first = start {
                segments.append(Segment(start: Double(first) * frameDuration, end: Double(index) * frameDuration))
                start = nil
            }
        }
        if let first = start {
            segments.append(Segment(start: Double(first) * frameDuration, end: min(Double(frames.count) * frameDuration, duration)))
        }
        return segments
    }
}
