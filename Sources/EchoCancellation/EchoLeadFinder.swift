/// Finds, to the sample, how far the reference has moved against its echo, with the echo path
/// the canceller learned before it moved.
///
/// The canceller's filter is learned to the sample: a reference moved by a few samples (a
/// microphone that lost audio and restarted from timestamps that jitter by milliseconds) leaves
/// most of a loud echo uncancelled until the filter has learned the room again, which takes
/// replies. The learned path still describes the room, though, so passing the reference through
/// it and matching the result against what the microphone heard, at each shift within
/// ``search``, finds the move, and moving the reference back restores the cancellation at once.
public enum EchoLeadFinder {
    /// The shifts tried, either way (samples at 16 kHz: 4 ms, the stamps' jitter).
    public static let search = 64

    /// The result of a search: the shift (samples) at which the learned path's output best
    /// matches the microphone, and how well (normalised correlation, -1…1).
    public struct Lead: Sendable, Equatable {
        /// Samples further ahead the reference should be read (negative: behind).
        public var shift: Int
        /// How well the learned echo matches what was heard at that shift.
        public var correlation: Double
    }

    /// The shift within ±``search`` at which `path` applied to `reference` best matches
    /// `microphone`, or nil when the path or the microphone is silent.
    ///
    /// - Parameters:
    ///   - path: the learned echo path, tap `k` = reference `k` samples earlier.
    ///   - microphone: what the microphone heard.
    ///   - reference: the reference as it is placed now, from `path.count - 1 + search` samples
    ///     before `microphone[0]` to `search` after its end
    ///     (`microphone.count + path.count - 1 + 2 × search` samples).
    public static func find(path: [Float], microphone: [Int16], reference: [Int16]) -> Lead? {
        let taps = path.count, count = microphone.count
        precondition(reference.count == count + taps - 1 + 2 * search, "the reference covers the microphone, the path and the search")
        guard taps > 0, count > 0 else { return nil }
        let played = reference.map(Float.init)
        // The learned echo at microphone samples -search ..< count + search.
        var echo = [Float](repeating: 0, count: count + 2 * search)
        played.withUnsafeBufferPointer { played in
            path.withUnsafeBufferPointer { path in
                for n in echo.indices {
                    // echo[n] = Σ path[k] · played[n + taps - 1 - k]
                    var sum: Float = 0
                    let end = n + taps - 1
                    for k in 0..<taps { sum += path[k] * played[end - k] }
                    echo[n] = sum
                }
            }
        }
        let heard = microphone.map(Float.init)
        let heardEnergy = heard.reduce(0) { $0 + Double($1 * $1) }
        var best: Lead?
        for shift in -search...search {
            var product = 0.0, energy = 0.0
            for n in 0..<count {
                let predicted = echo[n + search + shift]
                product += Double(heard[n] * predicted)
                energy += Double(predicted * predicted)
            }
            guard energy > 0, heardEnergy > 0 else { continue }
            let correlation = product / (energy * heardEnergy).squareRoot()
            if correlation > (best?.correlation ?? -.infinity) { best = Lead(shift: shift, correlation: correlation) }
        }
        return best
    }
}
