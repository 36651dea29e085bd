import GRDB

/// Why the store could not do what it was asked.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The disk (or the store's hard size limit) is full: nothing was written.
    case full(String)
    /// The database file could not be opened or migrated.
    case unavailable(String)
    /// The session does not exist or is in the wrong state for the request.
    case unknownSession(String)
    /// Any other SQLite failure.
    case database(String)

    /// A description for logs and status.
    public var description: String {
        switch self {
        case .full(let message): "storage full: \(message)"
        case .unavailable(let message): "store unavailable: \(message)"
        case .unknownSession(let id): "no such session: \(id)"
        case .database(let message): "database error: \(message)"
        }
    }

    /// Maps SQLite's errors onto the store's, keeping a full disk apart from the rest.
    static func wrapping(_ error: any Error) -> StoreError {
        if let store = error as? StoreError { return store }
        if let database = error as? DatabaseError {
            if database.resultCode == .SQLITE_FULL { return .full(database.message ?? "SQLITE_FULL") }
            return .database(database.description)
        }
        return .database(String(describing: error))
    }
}
