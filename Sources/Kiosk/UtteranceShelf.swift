import Synchronization

/// Where the microphone thread leaves each utterance's audio until the conversation takes it
/// as a turn (the recorder decides which session an utterance belongs to, a moment later).
/// Holds the most recent ``capacity`` utterances: one no session took is forgotten in time.
public final class UtteranceShelf: Sendable {
    /// Utterances kept at most.
    public let capacity: Int
    private let shelf = Mutex<[(id: String, samples: [Int16])]>([])

    /// A shelf of `capacity` utterances.
    public init(capacity: Int = 16) {
        self.capacity = capacity
    }

    /// Leaves utterance `id`'s audio (16 kHz mono, -1…1).
    public func put(_ id: String, samples: [Float]) {
        let pcm = samples.map { Int16(clamping: Int(($0 * 32_767).rounded())) }
        shelf.withLock {
            $0.append((id, pcm))
            if $0.count > capacity { $0.removeFirst($0.count - capacity) }
        }
    }

    /// Takes utterance `id`'s audio, or `nil` if it is not (or no longer) there.
    public func take(_ id: String) -> [Int16]? {
        shelf.withLock { entries in
            guard let index = entries.firstIndex(where: { $0.id == id }) else { return nil }
            return entries.remove(at: index).samples
        }
    }
}
