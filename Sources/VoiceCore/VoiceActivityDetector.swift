#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// How eager the voice activity detector is.
public struct VoiceActivityConfiguration: Sendable, Hashable {
    /// From 0 to 1: higher catches quieter and less certain speech at the cost of more false
    /// alarms; lower misses more but triggers less on noise. 0.5 is the default balance.
    public var sensitivity: Double
    /// Frames (10 ms each) of low speech probability the detector holds through before it
    /// decides speech has ended.
    public var hangoverFrames: Int

    /// The default balance: sensitivity 0.5, 80 ms hangover.
    public init(sensitivity: Double = 0.5, hangoverFrames: Int = 8) {
        self.sensitivity = sensitivity
        self.hangoverFrames = hangoverFrames
    }

    /// The probability at which speech starts. At sensitivity 0.5 it is the threshold chosen
    /// in training (on the select split, see docs/VOICE.md); each 0.25 of sensitivity moves its log-odds
    /// by 1, down for higher sensitivity.
    var onsetThreshold: Float {
        let trained = Double(VoiceActivityWeights.onsetThreshold)
        let logOdds = log(trained / (1 - trained)) + 4 * (0.5 - min(max(sensitivity, 0), 1))
        return Float(1 / (1 + exp(-logOdds)))
    }
    /// The probability below which speech may end (after the hangover).
    var releaseThreshold: Float { onsetThreshold * 0.7 }
}

/// The detector's decision about one 10 ms frame.
public struct VoiceFrameDecision: Sendable, Hashable {
    /// Frame number from the start of the stream (frame `i` covers `i × 10 ms ..< (i+1) × 10 ms`);
    /// for a primed detector, from the recording's first sample (the primed audio has none).
    public var index: Int
    /// The model's probability that the frame is speech.
    public var probability: Float
    /// Whether the detector counts the frame as speech (probability with hysteresis and hangover).
    public var isSpeech: Bool

    /// Start of the frame in seconds from the start of the stream.
    public var startTime: Double { Double(index) * VoiceActivityDetector.frameDuration }
    /// End of the frame in seconds from the start of the stream.
    public var endTime: Double { Double(index + 1) * VoiceActivityDetector.frameDuration }
}

/// Voice activity detection on a stream of 16 kHz mono audio.
///
/// Feed audio in chunks of any size (typically 10, 20 or 30 ms frames); each call returns the
/// decisions for the 10 ms frames that have become final. A decision waits for
/// ``VoiceActivityModel/lookahead`` frames (30 ms) of the future. Use ``AudioConverter`` first
/// for other rates and channel counts.
///
/// Not thread-safe: one detector per audio stream.
public struct VoiceActivityDetector: Sendable {
    /// Seconds per decision frame.
    public static let frameDuration = 0.01

    /// The settings in force.
    public let configuration: VoiceActivityConfiguration
    private let model: VoiceActivityModel
    private var features = VoiceFeatures()
    private var featureValues = [Float](repeating: 0, count: VoiceFeatures.count)
    private var framer = HopFramer()
    /// The embeddings of the last ``ringSize`` frames; frame `i` at `(i % ringSize) * embeddingSize`.
    private var embeddings: [Float]
    private var context: [Float]
    /// The model's recurrent cells, as the last decided frame left them.
    private var cells: [Float]
    private var framesSeen = 0
    private var nextDecision = 0
    /// Frames of primed audio (``prime(withOpening:)``) before the stream's first frame.
    private var primedFrames = 0
    /// Whether any audio has been fed (``prime(withOpening:)`` must come first).
    private var started = false
    private var inSpeech = false
    private var quietFrames = 0

    private static let ringSize = VoiceActivityModel.history + VoiceActivityModel.lookahead + 1

    /// A detector at the start of a stream.
    public init(configuration: VoiceActivityConfiguration = .init(), model: VoiceActivityModel = .trained) {
        self.configuration = configuration
        self.model = model
        embeddings = Array(repeating: 0, count: Self.ringSize * VoiceActivityModel.embeddingSize)
        context = Array(repeating: 0, count: VoiceActivityModel.contextInputs)
        cells = Array(repeating: 0, count: VoiceActivityModel.recurrentSize)
    }

    /// The longest opening ``prime(withOpening:)`` uses, in seconds: the span the features'
    /// noise floor is the minimum over (3.2 s).
    public static let primingDuration = Double(primingFrames) * frameDuration
    static let primingFrames = VoiceFeatures.floorBlocks * VoiceFeatures.floorBlockFrames

    /// Primes the detector with the opening of a recording before it judges any of it: the
    /// first ``primingDuration`` seconds of `opening` (or as many whole 10 ms hops as it holds;
    /// less than one primes nothing) are fed played backwards, ending at the recording's first
    /// sample, and their decisions dropped.
    ///
    /// A live stream's detector must first meet the room's noise to know what stands out of it,
    /// so a stream that begins with speech is judged against a noise floor set on the speech.
    /// A recording is there whole: mirrored at its start, it is judged as if it had been going
    /// for seconds already, with a floor found in the pauses of its opening. Call it once,
    /// before the first `process`, with the recording's first samples (or more), then process
    /// the recording from its first sample. Frames still number from the recording's start.
    public mutating func prime(withOpening opening: ArraySlice<Float>) {
        precondition(!started, "prime(withOpening:) before any audio")
        let hopSize = VoiceFeatures.hopSize
        let hops = min(opening.count / hopSize, Self.primingFrames)
        guard hops > 0 else { return }
        primedFrames = hops
        _ = process(Array(opening.prefix(hops * hopSize).reversed())[...])
    }

    /// Consumes 16 kHz mono samples; returns the decisions that became final, in order.
    public mutating func process(_ samples: [Float]) -> [VoiceFrameDecision] {
        process(samples[...])
    }

    /// Consumes 16 kHz mono samples; returns the decisions that became final, in order.
    public mutating func process(_ samples: ArraySlice<Float>) -> [VoiceFrameDecision] {
        started = true
        var decisions: [VoiceFrameDecision] = []
        var rest = samples
        while framer.fill(from: &rest) {
            consumeHop()
            if framesSeen - 1 - nextDecision >= VoiceActivityModel.lookahead { decideNext(into: &decisions) }
        }
        return decisions
    }

    /// Ends the stream: pads a partial last frame with silence and returns the remaining decisions.
    public mutating func finish() -> [VoiceFrameDecision] {
        if framer.padPartialHop() { consumeHop() }
        var decisions: [VoiceFrameDecision] = []
        while nextDecision < framesSeen { decideNext(into: &decisions) }
        return decisions
    }

    private mutating func consumeHop() {
        framer.hop.withUnsafeBufferPointer { hop in
            featureValues.withUnsafeMutableBufferPointer { out in features.process(hop: hop, into: out) }
        }
        let slot = (framesSeen % Self.ringSize) * VoiceActivityModel.embeddingSize
        featureValues.withUnsafeBufferPointer { features in
            embeddings.withUnsafeMutableBufferPointer { model.embed(features, into: $0.baseAddress! + slot) }
        }
        framesSeen += 1
    }

    /// Decides frame ``nextDecision`` from the frames seen so far; keeps the decision unless the
    /// frame is primed audio.
    private mutating func decideNext(into decisions: inout [VoiceFrameDecision]) {
        let decision = decide(lastFrame: framesSeen - 1)
        if decision.index >= 0 { decisions.append(decision) }
    }

    /// Decides frame ``nextDecision``, reading context frames no later than `lastFrame`.
    private mutating func decide(lastFrame: Int) -> VoiceFrameDecision {
        let frame = nextDecision
        let size = VoiceActivityModel.embeddingSize
        context.withUnsafeMutableBufferPointer { context in
            embeddings.withUnsafeBufferPointer { ring in
                for (k, offset) in VoiceActivityModel.contextOffsets.enumerated() {
                    let slot = (min(max(frame + offset, 0), lastFrame) % Self.ringSize) * size
                    for e in 0..<size { context[k * size + e] = ring[slot + e] }
                }
            }
        }
        let probability = context.withUnsafeBufferPointer { context in
            cells.withUnsafeMutableBufferPointer { model.probability(context: context.baseAddress!, cells: $0.baseAddress!) }
        }
        nextDecision += 1
        if inSpeech {
            if probability >= configuration.releaseThreshold {
                quietFrames = 0
            } else {
                quietFrames += 1
                if quietFrames > configuration.hangoverFrames { inSpeech = false }
            }
        } else if probability >= configuration.onsetThreshold {
            inSpeech = true
            quietFrames = 0
        }
        return VoiceFrameDecision(index: frame - primedFrames, probability: probability, isSpeech: inSpeech)
    }
}
