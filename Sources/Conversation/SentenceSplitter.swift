/// Cuts text that arrives in pieces (a model streaming its reply) into sentences, so that each
/// can go to speech synthesis as soon as it is complete. A sentence ends at `.`, `!` or `?`
/// (and any closing quotes or brackets) followed by a space, but not after a title or common
/// abbreviation ("Dr.", "e.g."); a sentence that grows past ``maximumLength`` characters
/// without an end is cut at its last comma or space, so synthesis never waits for ever.
public struct SentenceSplitter: Sendable {
    /// The longest run of text held back waiting for a sentence's end.
    public static let maximumLength = 240

    private static let abbreviations: Set<String> = ["dr", "mr", "mrs", "ms", "st", "e.g", "i.e", "etc", "vs", "no", "approx", "min"]
    private var pending = ""

    /// An empty splitter.
    public init() {}

    /// Adds `piece` of the text; returns the sentences it completed, trimmed, in order.
    public mutating func add(_ piece: String) -> [String] {
        pending += piece
        var sentences: [String] = []
        while let cut = Self.sentenceEnd(in: pending) ?? Self.forcedCut(in: pending) {
            let sentence = String(pending[..<cut]).trimmingWhitespace()
            pending = String(pending[cut...])
            if !sentence.isEmpty { sentences.append(sentence) }
        }
        return sentences
    }

    /// The rest of the text, once the stream has ended (`nil` when nothing is left).
    public mutating func finish() -> String? {
        defer { pending = "" }
        let rest = pending.trimmingWhitespace()
        return rest.isEmpty ? nil : rest
    }

    /// Where the first complete sentence in `text` ends (after its closing punctuation), if
    /// the character after it has arrived and is a space.
    static func sentenceEnd(in text: String) -> String.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            index = text.index(after: index)
            guard character == "." || character == "!" || character == "?" else { continue }
            var end = index
            while end < text.endIndex, "\"'”’)]".contains(text[end]) { end = text.index(after: end) }
            guard end < text.endIndex, text[end].isWhitespace else { continue }
            if character == ".", isAbbreviation(before: text.index(before: index), in: text) { continue }
            return end
        }
        return nil
    }

    /// A cut for text longer than ``maximumLength`` with no sentence end: after the last comma
    /// or space within the limit.
    static func forcedCut(in text: String) -> String.Index? {
        guard text.count > maximumLength else { return nil }
        let limit = text.index(text.startIndex, offsetBy: maximumLength)
        let head = text[..<limit]
        if let comma = head.lastIndex(of: ",") { return text.index(after: comma) }
        if let space = head.lastIndex(where: \.isWhitespace) { return text.index(after: space) }
        return limit
    }

    private static func isAbbreviation(before period: String.Index, in text: String) -> Bool {
        var start = period
        while start > text.startIndex {
            let previous = text.index(before: start)
            guard text[previous].isLetter || text[previous] == "." else { break }
            start = previous
        }
        let word = text[start..<period].lowercased()
        // A single letter ("J. Smith") or a known abbreviation; a decimal number is never cut.
        if word.count == 1 { return true }
        if abbreviations.contains(word) { return true }
        if period > text.startIndex, text[text.index(before: period)].isNumber,
           text.index(after: period) < text.endIndex, text[text.index(after: period)].isNumber { return true }
        return false
    }
}

extension String {
    /// Without leading and trailing whitespace.
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
