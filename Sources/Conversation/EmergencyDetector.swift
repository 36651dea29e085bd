/// Finds, in what a patient said, the signs of an emergency: chest pain, trouble breathing,
/// fainting, signs of a stroke, thoughts of suicide or self-harm, severe bleeding, and the
/// like. It runs before any model, in microseconds, and errs towards escalating: a clinic
/// would rather a member of staff come over for nothing than miss a patient in danger. It
/// does not read negation ("I don't have chest pain" escalates too).
public struct EmergencyDetector: Sendable {
    private let matcher: PhraseMatcher

    /// A detector for `phrases` (kind → patterns; by default ``EmergencyPhrases/all``).
    public init(phrases: [String: [String]] = EmergencyPhrases.all) {
        matcher = PhraseMatcher(phrases: phrases)
    }

    /// The first emergency in `transcript`, or `nil`.
    public func finding(in transcript: String) -> PhraseMatcher.Match? {
        matcher.match(in: transcript)
    }
}
