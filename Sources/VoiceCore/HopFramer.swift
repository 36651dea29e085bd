/// Cuts a stream of samples, arriving in chunks of any size, into hops of
/// ``VoiceFeatures/hopSize`` samples: the one framing the detector and the training features
/// share, so that both see exactly the same hops.
///
/// Not thread-safe: one framer per stream.
public struct HopFramer: Sendable {
    /// The current hop; complete after ``fill(from:)`` or ``padPartialHop()`` returned `true`.
    public private(set) var hop: [Float]
    private var filled = 0

    /// An empty framer.
    public init() {
        hop = [Float](repeating: 0, count: VoiceFeatures.hopSize)
    }

    /// Moves samples from the front of `samples` into the hop until it is complete (then
    /// returns `true`: read ``hop`` before the next call) or `samples` is empty (`false`).
    public mutating func fill(from samples: inout ArraySlice<Float>) -> Bool {
        if filled == hop.count { filled = 0 }
        let take = min(hop.count - filled, samples.count)
        hop.replaceSubrange(filled..<(filled + take), with: samples.prefix(take))
        filled += take
        samples = samples.dropFirst(take)
        return filled == hop.count
    }

    /// Completes a partial last hop with silence; returns whether there was one to complete.
    public mutating func padPartialHop() -> Bool {
        guard filled > 0, filled < hop.count else { return false }
        for i in filled..<hop.count { hop[i] = 0 }
        filled = hop.count
        return true
    }
}
