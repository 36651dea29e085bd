/// Checks a language model's reply before a patient hears it: a reply that diagnoses ("you
/// have …", "this sounds like …"), prescribes or doses ("take 400 mg", "you should take") is
/// replaced by a fixed one saying a clinician will advise. The system prompt and a Bedrock
/// Guardrail ask the model not to; this is what holds when it does anyway. It errs towards
/// replacing: a patient told "a clinician will talk this through with you" loses little.
public struct ReplyScreen: Sendable {
    /// What a replaced reply says instead.
    public static let replacement =
        "I can't give a diagnosis or advice on treatment or medicines. A clinician will talk this through with you; please ask at the desk if you are worried."

    /// The kinds of statement a reply must not make, as ``PhraseMatcher`` patterns.
    public static let forbidden: [String: [String]] = [
        "diagnosis": [
            "you have a", "you have an", "you may have", "you might have", "you probably have", "you likely have", "you could have",
            "you are suffering", "youre suffering", "sounds like … have", "sounds like a", "sounds like an", "consistent with",
            "indicates … you", "suggests … you have", "diagnos*", "you are having a", "youre having a", "this is likely",
            "its likely … infection", "its probably", "symptoms of",
        ],
        "prescription": [
            "you should take", "i recommend taking", "i suggest taking", "try taking", "take … mg", "mg of", "milligrams",
            "prescri*", "dose", "dosage", "tablets", "antibiotic*", "ibuprofen", "paracetamol", "acetaminophen", "aspirin",
            "stop taking", "increase your", "double your",
        ],
    ]

    private let matcher = PhraseMatcher(phrases: forbidden)

    /// A screen.
    public init() {}

    /// What the reply may not say that it does (`diagnosis` or `prescription`), or `nil`.
    public func finding(in reply: String) -> PhraseMatcher.Match? {
        matcher.match(in: reply)
    }
}
