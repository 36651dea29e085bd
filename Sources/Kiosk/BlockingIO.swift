import Dispatch

/// Runs blocking calls (SQLite commits with `synchronous=FULL`, an fsync each) on a thread of
/// their own, so that they never hold one of the few threads of Swift's cooperative pool or an
/// event loop. Calls run one at a time, in the order they were made.
final class BlockingIO: Sendable {
    private let queue: DispatchQueue

    /// A serial queue called `label`.
    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// `body`'s result, computed on this queue.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
