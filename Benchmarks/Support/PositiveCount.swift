import ArgumentParser

/// A whole number above zero from the command line (runs, frames, seconds, turns): anything
/// else is refused with the option's name, before the benchmark starts.
public struct PositiveCount: ExpressibleByArgument, Sendable, Hashable, CustomStringConvertible {
    /// The number.
    public let value: Int

    /// A default given in code; it must be above zero.
    public init(_ value: Int) {
        precondition(value > 0, "a positive count")
        self.value = value
    }

    public init?(argument: String) {
        guard let value = Int(argument), value > 0 else { return nil }
        self.value = value
    }

    public var description: String { String(value) }
    public var defaultValueDescription: String { String(value) }
}
