/// Merges the events of several sources that run at their own pace (the camera and the
/// microphone threads, or two files read as fast as possible) into one stream in time order.
///
/// Each source reports its progress with every event; an event is released once every
/// source still running has reached its time (the watermark), so a session never ends
/// because one source ran ahead of the other.
public struct EventMerger: Sendable {
    private var progress: [SourceID: Double] = [:]
    private var pending: [(time: Double, order: Int, event: PipelineEvent)] = []
    private var order = 0

    /// Which source an event comes from.
    public enum SourceID: Hashable, Sendable { case video, audio }

    /// A merger waiting for the given sources.
    public init(sources: Set<SourceID>) {
        for source in sources { progress[source] = -.infinity }
    }

    /// The time every running source has reached.
    public var watermark: Double { progress.values.min() ?? .infinity }

    /// Adds an event of `source` (nil: progress only) and says the source has reached
    /// `progress`: it will send no event ordered before that time.
    public mutating func push(_ event: PipelineEvent?, progress time: Double, from source: SourceID) {
        if let event {
            pending.append((event.time, order, event))
            order += 1
        }
        if let current = progress[source] { progress[source] = max(current, time) }
    }

    /// Says a source will send nothing more (ended or failed): it no longer holds others back.
    public mutating func finish(_ source: SourceID) {
        progress.removeValue(forKey: source)
    }

    /// Says a source takes part again (a camera came back).
    public mutating func resume(_ source: SourceID, at time: Double) {
        progress[source] = time
    }

    /// The events at or before the watermark, in time order (ties in arrival order).
    public mutating func release() -> [PipelineEvent] {
        let limit = watermark
        let ready = pending.filter { $0.time <= limit }
        guard !ready.isEmpty else { return [] }
        pending.removeAll { $0.time <= limit }
        return ready.sorted { ($0.time, $0.order) < ($1.time, $1.order) }.map(\.event)
    }
}
