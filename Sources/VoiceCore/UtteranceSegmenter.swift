/// How speech is cut into utterances.
public struct UtteranceConfiguration: Sendable, Hashable {
    /// Seconds of audio kept before the detected onset (and after the last speech frame), so
    /// that soft word beginnings and endings are not clipped.
    public var padding: Double
    /// Seconds of non-speech that end an utterance.
    public var endSilence: Double
    /// Longest utterance in seconds; a longer stretch of speech is cut into several.
    public var maximumLength: Double
    /// Least detected speech, in seconds, for an utterance to be emitted (shorter ones are
    /// coughs, clicks and door slams).
    public var minimumSpeech: Double
    /// The detector's settings.
    public var detector: VoiceActivityConfiguration

    /// Defaults for a kiosk conversation: 300 ms padding, 700 ms end silence, 20 s at most,
    /// 200 ms of speech at least.
    public init(
        padding: Double = 0.3, endSilence: Double = 0.7, maximumLength: Double = 20,
        minimumSpeech: Double = 0.2, detector: VoiceActivityConfiguration = .init()
    ) {
        self.padding = padding
        self.endSilence = endSilence
        self.maximumLength = maximumLength
        self.minimumSpeech = minimumSpeech
        self.detector = detector
    }
}

/// One utterance: the audio of a stretch of speech with its padding.
public struct Utterance: Sendable, Hashable {
    /// Why the utterance ended.
    public enum EndReason: String, Sendable, Hashable {
        /// Followed by ``UtteranceConfiguration/endSilence`` of non-speech.
        case silence
        /// Reached ``UtteranceConfiguration/maximumLength``.
        case maximumLength
        /// The stream ended.
        case endOfStream
    }

    /// Start of ``samples`` in seconds from the start of the stream (padding included).
    public var startTime: Double
    /// Where the detector found the speech to start, in seconds.
    public var speechStartTime: Double
    /// End of ``samples`` in seconds from the start of the stream.
    public var endTime: Double
    /// The audio, 16 kHz mono.
    public var samples: [Float]
    /// Why it ended.
    public var endReason: EndReason
}

/// Cuts a stream of 16 kHz mono audio into utterances, as it arrives: a
/// ``VoiceActivityDetector`` decides each frame, and the segmenter keeps just the audio an
/// open utterance or the next one's padding needs.
///
/// Not thread-safe: one segmenter per audio stream.
public struct UtteranceSegmenter: Sendable {
    /// The settings in force.
    public let configuration: UtteranceConfiguration
    private var detector: VoiceActivityDetector
    private let frameSize = VoiceFeatures.hopSize
    private let paddingFrames: Int, endSilenceFrames: Int, maximumFrames: Int, minimumSpeechFrames: Int

    /// Audio from frame `audioStartFrame` on.
    private var audio: [Float] = []
    private var audioStartFrame = 0
    private var nextDecision = 0
    /// The earliest frame the next utterance may start at (the end of the previous one).
    private var earliestStart = 0
    private var open: (start: Int, speechStart: Int, lastSpeech: Int, speechFrames: Int)?

    /// A segmenter at the start of a stream.
    public init(configuration: UtteranceConfiguration = .init()) {
        self.configuration = configuration
        detector = VoiceActivityDetector(configuration: configuration.detector)
        func frames(_ seconds: Double) -> Int { Int((seconds / VoiceActivityDetector.frameDuration).rounded()) }
        paddingFrames = frames(configuration.padding)
        endSilenceFrames = max(1, frames(configuration.endSilence))
        maximumFrames = max(1, frames(configuration.maximumLength))
        minimumSpeechFrames = frames(configuration.minimumSpeech)
    }

    /// Seconds of speech heard so far in the utterance under way; `nil` when none is.
    /// The kiosk's barge-in watches it: enough speech over a reply stops the reply long before
    /// the utterance ends.
    public var speechInOpenUtterance: Double? {
        open.map { Double($0.speechFrames) * VoiceActivityDetector.frameDuration }
    }

    /// Primes the detector with the opening of a recording: see
    /// ``VoiceActivityDetector/prime(withOpening:)``. For recordings only, before the first
    /// `process`; a live stream has no opening to look ahead at.
    public mutating func prime(withOpening opening: ArraySlice<Float>) {
        detector.prime(withOpening: opening)
    }

    /// Consumes 16 kHz mono samples; returns the utterances they complete.
    public mutating func process(_ samples: [Float]) -> [Utterance] {
        audio.append(contentsOf: samples)
        var utterances: [Utterance] = []
        for decision in detector.process(samples) { handle(decision, into: &utterances) }
        trimAudio()
        return utterances
    }

    /// Ends the stream; returns the utterances still open.
    public mutating func finish() -> [Utterance] {
        var utterances: [Utterance] = []
        for decision in detector.finish() { handle(decision, into: &utterances) }
        if let open {
            close(open, end: min(open.lastSpeech + 1 + paddingFrames, nextDecision), reason: .endOfStream, into: &utterances)
        }
        return utterances
    }

    private mutating func handle(_ decision: VoiceFrameDecision, into utterances: inout [Utterance]) {
        let frame = decision.index
        nextDecision = frame + 1
        guard var current = open else {
            if decision.isSpeech {
                let start = max(frame - paddingFrames, earliestStart, audioStartFrame)
                open = (start, frame, frame, 1)
            }
            return
        }
        if decision.isSpeech {
            current.lastSpeech = frame
            current.speechFrames += 1
        }
        open = current
        if frame + 1 - current.start >= maximumFrames {
            close(current, end: frame + 1, reason: .maximumLength, into: &utterances)
        } else if frame - current.lastSpeech >= endSilenceFrames {
            close(current, end: min(current.lastSpeech + 1 + paddingFrames, frame + 1), reason: .silence, into: &utterances)
        }
    }

    private mutating func close(
        _ utterance: (start: Int, speechStart: Int, lastSpeech: Int, speechFrames: Int), end: Int,
        reason: Utterance.EndReason, into utterances: inout [Utterance]
    ) {
        open = nil
        earliestStart = end
        guard utterance.speechFrames >= minimumSpeechFrames else { return }
        let from = (utterance.start - audioStartFrame) * frameSize
        let to = min((end - audioStartFrame) * frameSize, audio.count)
        let frameDuration = VoiceActivityDetector.frameDuration
        utterances.append(Utterance(
            startTime: Double(utterance.start) * frameDuration,
            speechStartTime: Double(utterance.speechStart) * frameDuration,
            endTime: Double(end) * frameDuration,
            samples: from < to ? Array(audio[from..<to]) : [],
            endReason: reason
        ))
    }

    /// Drops audio that neither the open utterance nor the next one's padding can need.
    private mutating func trimAudio() {
        let keepFrom = open?.start ?? max(nextDecision - paddingFrames, earliestStart)
        let frames = min(keepFrom - audioStartFrame, audio.count / frameSize)
        guard frames > 0 else { return }
        audio.removeFirst(frames * frameSize)
        audioStartFrame += frames
    }
}
