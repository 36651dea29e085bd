import Foundation
import MediaFiles
import NIOCore
import Synchronization

/// The spoken reply of one turn while it is synthesised: the pipeline appends samples (16 kHz
/// mono), any number of listeners read them as they come. Before the turn is answered the
/// pipeline may start it over (a screened or failed reply): audio of an older generation that
/// arrives late is dropped.
public final class ReplyAudio: Sendable {
    private struct State {
        var samples: [Int16] = []
        var generation = 0
        var finished = false
        var firstSampleAt: ContinuousClock.Instant?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// An empty reply.
    public init() {}

    /// Drops what was synthesised and starts generation anew; returns its number.
    func restart() -> Int {
        state.withLock { state in
            state.samples.removeAll()
            state.finished = false
            state.firstSampleAt = nil
            state.generation += 1
            return state.generation
        }
    }

    /// Appends `samples` made for `generation` (dropped if that generation was started over).
    func append(_ samples: [Int16], generation: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.generation == generation, !state.finished, !samples.isEmpty else { return [] }
            if state.samples.isEmpty { state.firstSampleAt = .now }
            state.samples += samples
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Marks `generation` complete.
    func finish(generation: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.generation == generation else { return [] }
            state.finished = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// When the first sample of the reply was made.
    public var firstSampleAt: ContinuousClock.Instant? { state.withLock { $0.firstSampleAt } }

    /// Returns once the whole reply is synthesised.
    public func waitUntilFinished() async {
        var offset = 0
        while let more = await samples(after: offset) { offset += more.count }
    }

    /// Whether synthesis has finished.
    public var isFinished: Bool { state.withLock { $0.finished } }

    /// All samples so far.
    public var samples: [Int16] { state.withLock { $0.samples } }

    /// The samples after the first `offset`, waiting until there are some; `nil` once the
    /// reply is complete and all were read.
    public func samples(after offset: Int) async -> [Int16]? {
        while true {
            let ready: [Int16]?? = state.withLock { state in
                if offset < state.samples.count { return .some(Array(state.samples[offset...])) }
                return state.finished ? .some(nil) : nil
            }
            if let ready { return ready }
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if offset < state.samples.count || state.finished { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }
}

/// The replies being synthesised or recently synthesised on this instance, by turn id, so
/// that `GET …/reply.wav` streams them while they are made. Kept ``retention`` after they
/// finish, at most ``capacity`` of them; a reply asked for later is read from the object store
/// or synthesised again from its stored text.
public final class ReplyAudioHub: Sendable {
    private struct Entry {
        var audio: ReplyAudio
        var registered: ContinuousClock.Instant
    }

    /// The replies by turn id, and their ids in the order they were registered (oldest first).
    private struct Entries {
        var byID: [String: Entry] = [:]
        var order: [(id: String, registered: ContinuousClock.Instant)] = []
    }

    private let entries = Mutex(Entries())
    /// How long a reply is kept in memory.
    public let retention: Duration
    /// How many replies are kept at most.
    public let capacity: Int

    /// A hub keeping replies `retention` long, at most `capacity`.
    public init(retention: Duration = .seconds(300), capacity: Int = 256) {
        self.retention = retention
        self.capacity = capacity
    }

    /// A new reply for turn `id`, registered at `now`; the oldest replies make room for it
    /// when the hub is full, and those older than ``retention`` go.
    public func register(_ id: String, now: ContinuousClock.Instant = .now) -> ReplyAudio {
        let audio = ReplyAudio()
        entries.withLock { entries in
            // The oldest go first: expired ones, and one more while the hub is full.
            var dropped = 0
            for (oldID, registered) in entries.order {
                let current = entries.byID[oldID]
                if current?.registered == registered {
                    guard now - registered >= retention || entries.byID.count >= capacity else { break }
                    entries.byID[oldID] = nil
                }
                dropped += 1  // removed, or registered again since (its newer place comes later)
            }
            entries.order.removeFirst(dropped)
            entries.byID[id] = Entry(audio: audio, registered: now)
            entries.order.append((id, now))
        }
        return audio
    }

    /// The reply of turn `id`, if this instance has it.
    public func audio(_ id: String) -> ReplyAudio? {
        entries.withLock { $0.byID[id]?.audio }
    }
}

/// WAV framing of the relay's 16 kHz mono 16-bit audio, in NIO buffers.
enum WAVStream {
    /// The header; `sampleCount` `nil` while streaming (see ``MediaFiles/WAVBytes``).
    static func header(sampleCount: Int?) -> ByteBuffer {
        ByteBuffer(bytes: WAVBytes.header(sampleRate: UtteranceAudio.sampleRate, frameCount: sampleCount))
    }

    /// `samples` as little-endian bytes.
    static func payload(_ samples: [Int16]) -> ByteBuffer {
        ByteBuffer(bytes: WAVBytes.payload(samples))
    }

    /// A whole WAV file of `samples`.
    static func file(_ samples: [Int16]) -> ByteBuffer {
        ByteBuffer(bytes: WAVBytes.file(samples, sampleRate: UtteranceAudio.sampleRate))
    }
}
