/// `body`'s result, or the error `timedOut` makes once `deadline` has passed; `body` is then
/// cancelled. Shared by the kiosk (relay calls) and the relay (provider calls): a deadline that
/// covers a whole exchange, where HTTP clients' own timeouts end with the response head.
public func withDeadline<T: Sendable>(
    _ deadline: Duration, timedOut: @escaping @Sendable () -> any Error, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: deadline)
            throw timedOut()
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw CancellationError() }
        return result
    }
}
