#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The learned part of the voice activity detector: a small two-stage network over
/// ``VoiceFeatures``, trained by `Training/voice/train.py` (see docs/VOICE.md).
///
/// Stage one embeds each 10 ms frame's features (normalised) into ``embeddingSize`` values
/// (ReLU). Stage two reads the embeddings of the frames at ``contextOffsets`` around the frame
/// being decided (500 ms of the past, 30 ms of the future), through ``hiddenSize`` ReLU units to
/// one logistic output: the probability that the frame is speech. About 17 000 multiply-adds per
/// frame, in SIMD8 (the accumulators are sized for exactly 24 and 48 units; `init` checks).
public struct VoiceActivityModel: Sendable {
    /// Values per frame embedding.
    public static let embeddingSize = 24
    /// Hidden units of stage two.
    public static let hiddenSize = 48
    /// Frames (relative to the one decided) whose embeddings stage two reads.
    public static let contextOffsets = [-50, -30, -20, -14, -10, -7, -5, -3, -2, -1, 0, 1, 2, 3]
    /// Frames of the future a decision waits for.
    public static let lookahead = contextOffsets.max()!
    /// Frames of the past a decision reads.
    public static let history = -contextOffsets.min()!

    let featureMean: [Float]
    let featureScale: [Float]
    /// Stage one, feature-major: `embeddingWeights[f * embeddingSize + e]`.
    let embeddingWeights: [Float]
    let embeddingBias: [Float]
    /// Stage two, input-major (input `k * embeddingSize + e` is embedding value `e` of context
    /// frame `k`): `hiddenWeights[input * hiddenSize + h]`.
    let hiddenWeights: [Float]
    let hiddenBias: [Float]
    let outputWeights: [Float]
    let outputBias: Float

    /// Inputs of stage two.
    static let contextInputs = contextOffsets.count * embeddingSize

    /// Floats in a serialised model, in the order of ``init(parameters:)``.
    static let parameterCount = 2 * VoiceFeatures.count
        + VoiceFeatures.count * embeddingSize + embeddingSize
        + contextInputs * hiddenSize + hiddenSize
        + hiddenSize + 1

    /// A model from its parameters: feature means, feature scales, stage-one weights
    /// (feature-major) and biases, stage-two weights (input-major) and biases, output weights
    /// and bias.
    init(parameters p: [Float]) {
        precondition(p.count == Self.parameterCount, "expected \(Self.parameterCount) parameters, got \(p.count)")
        precondition(Self.embeddingSize == 24 && Self.hiddenSize == 48, "the accumulators of embed and probability are sized for 24 and 48")
        var at = 0
        func take(_ n: Int) -> [Float] {
            defer { at += n }
            return Array(p[at..<(at + n)])
        }
        let features = VoiceFeatures.count
        featureMean = take(features)
        featureScale = take(features)
        embeddingWeights = take(features * Self.embeddingSize)
        embeddingBias = take(Self.embeddingSize)
        hiddenWeights = take(Self.contextInputs * Self.hiddenSize)
        hiddenBias = take(Self.hiddenSize)
        outputWeights = take(Self.hiddenSize)
        outputBias = take(1)[0]
    }

    /// The trained model committed with the source.
    public static let trained = VoiceActivityModel(parameters: decodeHex(VoiceActivityWeights.hex))

    private typealias V = SIMD8<Float>
    private static let lanes = 8

    /// Stage one: writes the ``embeddingSize`` embedding values of one frame's features.
    func embed(_ features: UnsafeBufferPointer<Float>, into embedding: UnsafeMutablePointer<Float>) {
        let groups = Self.embeddingSize / Self.lanes
        var accumulators = (V.zero, V.zero, V.zero)
        withUnsafeMutableBytes(of: &accumulators) { acc in
            embeddingBias.withUnsafeBytes { acc.copyMemory(from: $0) }
            embeddingWeights.withUnsafeBytes { raw in
                for f in 0..<VoiceFeatures.count {
                    let x = (features[f] - featureMean[f]) * featureScale[f]
                    let row = f * Self.embeddingSize * 4
                    for g in 0..<groups {
                        let sum = acc.load(fromByteOffset: g * 32, as: V.self)
                            + x * raw.loadUnaligned(fromByteOffset: row + g * 32, as: V.self)
                        acc.storeBytes(of: sum, toByteOffset: g * 32, as: V.self)
                    }
                }
            }
            let out = UnsafeMutableRawPointer(embedding)
            for g in 0..<groups {
                let a = acc.load(fromByteOffset: g * 32, as: V.self)
                out.storeBytes(of: a.replacing(with: 0, where: a .< 0), toByteOffset: g * 32, as: V.self)
            }
        }
    }

    /// Stage two: the probability of speech, given the ``contextInputs`` embedding values of
    /// the frames at ``contextOffsets``, in order.
    func probability(context: UnsafePointer<Float>) -> Float {
        let groups = Self.hiddenSize / Self.lanes
        var accumulators = (V.zero, V.zero, V.zero, V.zero, V.zero, V.zero)
        return withUnsafeMutableBytes(of: &accumulators) { acc in
            hiddenBias.withUnsafeBytes { acc.copyMemory(from: $0) }
            hiddenWeights.withUnsafeBytes { raw in
                for i in 0..<Self.contextInputs {
                    let x = context[i]
                    if x == 0 { continue }  // ReLU zeros are common
                    let row = i * Self.hiddenSize * 4
                    for g in 0..<groups {
                        let sum = acc.load(fromByteOffset: g * 32, as: V.self)
                            + x * raw.loadUnaligned(fromByteOffset: row + g * 32, as: V.self)
                        acc.storeBytes(of: sum, toByteOffset: g * 32, as: V.self)
                    }
                }
            }
            let logit = outputWeights.withUnsafeBytes { w in
                var sum = V.zero
                for g in 0..<groups {
                    let a = acc.load(fromByteOffset: g * 32, as: V.self)
                    sum += a.replacing(with: 0, where: a .< 0) * w.loadUnaligned(fromByteOffset: g * 32, as: V.self)
                }
                return sum.sum() + outputBias
            }
            return 1 / (1 + expf(-logit))
        }
    }

    static func decodeHex(_ hex: String) -> [Float] {
        var values: [Float] = []
        var bits: UInt32 = 0, digits = 0
        for c in hex.utf8 {
            let nibble: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt32(c - UInt8(ascii: "a") + 10)
            default: continue
            }
            // Little-endian bytes, each written as two hex digits (high nibble first).
            let byteIndex = digits / 2
            let shift = UInt32(byteIndex * 8 + (digits % 2 == 0 ? 4 : 0))
            bits |= nibble << shift
            digits += 1
            if digits == 8 {
                values.append(Float(bitPattern: bits))
                bits = 0
                digits = 0
            }
        }
        return values
    }
}
