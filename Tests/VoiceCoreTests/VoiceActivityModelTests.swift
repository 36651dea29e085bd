import Foundation
import Testing
import VoiceCore

/// The Swift network against the one training ran (Training/voice/train.py writes what its
/// numpy twin of PyTorch's network gives a reference input into the generated weights).
@Suite struct VoiceActivityModelTests {
    @Test func computesWhatTrainingComputed() {
        let model = VoiceActivityModel.trained
        let frames = 300
        let size = VoiceActivityModel.embeddingSize
        var embeddings = [Float](repeating: 0, count: frames * size)
        for t in 0..<frames {
            // The reference input: normalised features 2 sin(0.05 t + f).
            let features = (0..<VoiceFeatures.count).map { f in
                model.featureMean[f] + 2 * Float(sin(0.05 * Double(t) + Double(f))) / model.featureScale[f]
            }
            features.withUnsafeBufferPointer { features in
                embeddings.withUnsafeMutableBufferPointer { model.embed(features, into: $0.baseAddress! + t * size) }
            }
        }
        var cells = [Float](repeating: 0, count: VoiceActivityModel.recurrentSize)
        var context = [Float](repeating: 0, count: VoiceActivityModel.contextInputs)
        var probabilities: [Float] = []
        for t in 0..<frames {
            for (k, offset) in VoiceActivityModel.contextOffsets.enumerated() {
                let frame = min(max(t + offset, 0), frames - 1)
                for e in 0..<size { context[k * size + e] = embeddings[frame * size + e] }
            }
            let p = context.withUnsafeBufferPointer { context in
                cells.withUnsafeMutableBufferPointer { model.probability(context: context.baseAddress!, cells: $0.baseAddress!) }
            }
            probabilities.append(p)
        }
        let reference = VoiceActivityWeights.referenceProbabilities
        #expect(reference.count == 30)
        let sampled = stride(from: 0, to: frames, by: 10).map { probabilities[$0] }
        let differences = zip(sampled, reference).map { abs($0 - $1) }
        // `allSatisfy`, not `max()`: a NaN is neither above nor below the bound.
        #expect(differences.allSatisfy { $0 < 1e-4 }, "differences \(differences)")
        // The reference is not trivial: the input moves the probability over a wide range.
        #expect(reference.max()! - reference.min()! > 0.2, "\(reference)")
    }
}
