#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The learned part of the voice activity detector: a small network of three stages over
/// ``VoiceFeatures``, trained by `Training/voice/train.py` (see docs/VOICE.md).
///
/// Stage one embeds each 10 ms frame's features (normalised) into ``embeddingSize`` values
/// (ReLU). Stage two reads the embeddings of the frames at ``contextOffsets`` around the frame
/// being decided (500 ms of the past, 30 ms of the future) through ``hiddenSize`` ReLU units.
/// Stage three, a gated recurrent unit of ``recurrentSize`` cells, reads stage two's units frame
/// after frame and carries what it has heard since the stream began (a room that has been full
/// of distant talkers for a minute, a voice that has been near all along). One logistic output
/// reads stage two's units and the recurrent cells: the probability that the frame is speech.
/// About 22 400 multiply-adds per frame, in SIMD8 (the accumulators are sized for exactly 24, 48
/// and 24 units; `init` checks).
public struct VoiceActivityModel: Sendable {
    /// Values per frame embedding.
    public static let embeddingSize = 24
    /// Hidden units of stage two.
    public static let hiddenSize = 48
    /// Cells of the recurrent stage three.
    public static let recurrentSize = 24
    /// Frames (relative to the one decided) whose embeddings stage two reads.
    public static let contextOffsets = [-50, -30, -20, -14, -10, -7, -5, -3, -2, -1, 0, 1, 2, 3]
    /// Frames of the future a decision waits for.
    public static let lookahead = contextOffsets.max()!
    /// Frames of the past a decision reads.
    public static let history = -contextOffsets.min()!

    package let featureMean: [Float]
    package let featureScale: [Float]
    /// Stage one, feature-major: `embeddingWeights[f * embeddingSize + e]`.
    let embeddingWeights: [Float]
    let embeddingBias: [Float]
    /// Stage two, input-major (input `k * embeddingSize + e` is embedding value `e` of context
    /// frame `k`): `hiddenWeights[input * hiddenSize + h]`.
    let hiddenWeights: [Float]
    let hiddenBias: [Float]
    /// Stage three's gates (reset, update, candidate; `recurrentSize` each) from stage two's
    /// units, input-major: `gateInputWeights[h * gates + g]`.
    let gateInputWeights: [Float]
    /// The gates from the recurrent cells, cell-major: `gateRecurrentWeights[c * gates + g]`.
    let gateRecurrentWeights: [Float]
    let gateInputBias: [Float]
    let gateRecurrentBias: [Float]
    /// The output's weights on stage two's units, then on the recurrent cells.
    let outputWeights: [Float]
    let outputBias: Float

    /// Inputs of stage two.
    package static let contextInputs = contextOffsets.count * embeddingSize
    /// Gate values of stage three: reset, update and candidate for each cell.
    static let gates = 3 * recurrentSize

    /// Floats in a serialised model, in the order of ``init(parameters:)``.
    static let parameterCount = 2 * VoiceFeatures.count
        + VoiceFeatures.count * embeddingSize + embeddingSize
        + contextInputs * hiddenSize + hiddenSize
        + hiddenSize * gates + recurrentSize * gates + 2 * gates
        + hiddenSize + recurrentSize + 1

    /// A model from its parameters: feature means, feature scales, stage-one weights
    /// (feature-major) and biases, stage-two weights (input-major) and biases, stage-three
    /// input weights (input-major), recurrent weights (cell-major), input biases and recurrent
    /// biases, output weights and bias.
    init(parameters p: [Float]) {
        precondition(p.count == Self.parameterCount, "expected \(Self.parameterCount) parameters, got \(p.count)")
        precondition(
            Self.embeddingSize == 24 && Self.hiddenSize == 48 && Self.recurrentSize == 24,
            "the accumulators of embed, probability and recur are sized for 24, 48 and 24")
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
        gateInputWeights = take(Self.hiddenSize * Self.gates)
        gateRecurrentWeights = take(Self.recurrentSize * Self.gates)
        gateInputBias = take(Self.gates)
        gateRecurrentBias = take(Self.gates)
        outputWeights = take(Self.hiddenSize + Self.recurrentSize)
        outputBias = take(1)[0]
    }

    /// The trained model committed with the source.
    public static let trained = VoiceActivityModel(parameters: decodeHex(VoiceActivityWeights.hex))

    private typealias V = SIMD8<Float>
    private static let lanes = 8

    /// Stage one: writes the ``embeddingSize`` embedding values of one frame's features.
    package func embed(_ features: UnsafeBufferPointer<Float>, into embedding: UnsafeMutablePointer<Float>) {
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

    /// Stages two and three: the probability of speech, given the ``contextInputs`` embedding
    /// values of the frames at ``contextOffsets``, in order, and the ``recurrentSize`` recurrent
    /// cells as the previous frame left them (zeros at the start of a stream), which it updates.
    package func probability(context: UnsafePointer<Float>, cells: UnsafeMutablePointer<Float>) -> Float {
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
            for g in 0..<groups {
                let a = acc.load(fromByteOffset: g * 32, as: V.self)
                acc.storeBytes(of: a.replacing(with: 0, where: a .< 0), toByteOffset: g * 32, as: V.self)
            }
            let hidden = acc.assumingMemoryBound(to: Float.self).baseAddress!
            recur(hidden: hidden, cells: cells)
            let logit = outputWeights.withUnsafeBytes { w in
                var sum = V.zero
                for g in 0..<groups {
                    sum += acc.load(fromByteOffset: g * 32, as: V.self) * w.loadUnaligned(fromByteOffset: g * 32, as: V.self)
                }
                let cellBytes = UnsafeRawPointer(cells)
                for g in 0..<(Self.recurrentSize / Self.lanes) {
                    sum += cellBytes.loadUnaligned(fromByteOffset: g * 32, as: V.self)
                        * w.loadUnaligned(fromByteOffset: (Self.hiddenSize + g * Self.lanes) * 4, as: V.self)
                }
                return sum.sum() + outputBias
            }
            return 1 / (1 + expf(-logit))
        }
    }

    /// Stage three: one step of the gated recurrent unit (as PyTorch's `GRU` defines it) from
    /// stage two's ``hiddenSize`` units. With `i` the gates' input part and `r` their recurrent
    /// part: reset = σ(i + r), update = σ(i + r), candidate = tanh(i + reset × r), and each cell
    /// becomes (1 − update) × candidate + update × itself.
    private func recur(hidden: UnsafePointer<Float>, cells: UnsafeMutablePointer<Float>) {
        let groups = Self.gates / Self.lanes
        // Nine vectors of the gates' input part, then nine of their recurrent part.
        var accumulators = (V.zero, V.zero, V.zero, V.zero, V.zero, V.zero, V.zero, V.zero, V.zero,
                            V.zero, V.zero, V.zero, V.zero, V.zero, V.zero, V.zero, V.zero, V.zero)
        withUnsafeMutableBytes(of: &accumulators) { acc in
            let recurrentPart = groups * 32
            gateInputBias.withUnsafeBytes { acc.copyMemory(from: $0) }
            gateRecurrentBias.withUnsafeBytes { (acc.baseAddress! + recurrentPart).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            func accumulate(_ weights: [Float], _ inputs: UnsafePointer<Float>, count: Int, at base: Int) {
                weights.withUnsafeBytes { raw in
                    for i in 0..<count {
                        let x = inputs[i]
                        if x == 0 { continue }
                        let row = i * Self.gates * 4
                        for g in 0..<groups {
                            let sum = acc.load(fromByteOffset: base + g * 32, as: V.self)
                                + x * raw.loadUnaligned(fromByteOffset: row + g * 32, as: V.self)
                            acc.storeBytes(of: sum, toByteOffset: base + g * 32, as: V.self)
                        }
                    }
                }
            }
            accumulate(gateInputWeights, hidden, count: Self.hiddenSize, at: 0)
            accumulate(gateRecurrentWeights, cells, count: Self.recurrentSize, at: recurrentPart)
            let values = acc.assumingMemoryBound(to: Float.self).baseAddress!
            let (n, recurrent) = (Self.recurrentSize, Self.gates)
            for c in 0..<n {
                let reset = 1 / (1 + expf(-(values[c] + values[recurrent + c])))
                let update = 1 / (1 + expf(-(values[n + c] + values[recurrent + n + c])))
                let candidate = tanhf(values[2 * n + c] + reset * values[recurrent + 2 * n + c])
                cells[c] = (1 - update) * candidate + update * cells[c]
            }
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
