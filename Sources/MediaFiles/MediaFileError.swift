/// A media file that cannot be read or written, with where in the file the problem is.
public struct MediaFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem. New kinds may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case io, badHeader, unsupported, truncated, badFrame
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The file could not be opened, read or written.
        public static let io = Self(.io)
        /// The file header is malformed.
        public static let badHeader = Self(.badHeader)
        /// The file is well-formed but uses a feature this reader does not support.
        public static let unsupported = Self(.unsupported)
        /// The file ends in the middle of a header or a frame.
        public static let truncated = Self(.truncated)
        /// A frame or chunk is malformed (wrong marker, wrong size).
        public static let badFrame = Self(.badFrame)

        public var description: String { base.rawValue }
    }

    /// The kind of problem.
    public var code: Code
    /// What is wrong, in words.
    public var message: String
    /// Byte offset in the file where the problem was found, when it applies.
    public var offset: Int?

    /// An error of `code` at `offset`.
    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String {
        if let offset { return "\(message) (at byte offset \(offset))" }
        return message
    }
}
