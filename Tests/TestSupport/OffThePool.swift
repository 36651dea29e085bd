import Foundation

/// `body`'s result, computed on a thread of its own, at most two such computations at a time (a
/// 2-core machine's worth).
///
/// For tests that compute for seconds or minutes (simulated video). The test run
/// is one process whose tests share Swift's cooperative pool, two threads here, which runs what is
/// ready in the order it became ready. Every test starts at once, so the first step of every
/// computing test is queued ahead of the second step of every test that waits on something (a
/// service answering, a sleep): done on the pool, the vitals accuracy tests' 14 minutes of
/// computation stalled every other test between two of its steps for seven minutes, and one
/// that gives its service ten minutes to answer failed. Off the pool the computation takes its
/// turns with the pool's work at the operating system's time slices instead.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            computingSlots.wait()
            defer { computingSlots.signal() }
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20  // 8 MiB, glibc's default for a new thread here (ulimit -s)
        thread.start()
    }
}

/// The computations `offThePool` runs at once.
private let computingSlots = DispatchSemaphore(value: 2)
