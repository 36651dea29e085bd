import Foundation

/// Finds which of a set of phrases a sentence contains: patterns of words in several languages,
/// where `…` stands for up to three other words (so "pain … chest" also finds "pain in my
/// chest") and a word ending in `*` matches any word it begins. Case, accents and apostrophes
/// are folded away first.
public struct PhraseMatcher: Sendable {
    /// A phrase found: its kind, and the pattern that matched.
    public struct Match: Sendable, Hashable {
        /// The kind of phrase (e.g. `chest_pain`).
        public var kind: String
        /// The pattern that matched, as written in the list.
        public var pattern: String
    }

    private struct Pattern: Sendable {
        var kind: String
        var text: String
        /// Words in order; an empty string is a gap of up to ``maximumGap`` words.
        var words: [String]
    }

    /// The most words a `…` in a pattern stands for.
    public static let maximumGap = 3

    private let patterns: [Pattern]

    /// A matcher for `phrases` (kind → patterns); kinds are tried in name order.
    public init(phrases: [String: [String]]) {
        patterns = phrases.sorted { $0.key < $1.key }.flatMap { kind, texts in
            texts.map { text in
                Pattern(kind: kind, text: text, words: Self.words(text.replacingOccurrences(of: "…", with: " \u{1} ")).map { $0 == "\u{1}" ? "" : $0 })
            }
        }
    }

    /// The first phrase in `transcript`, or `nil`.
    public func match(in transcript: String) -> Match? {
        // Read twice: apostrophes joining (English "can't" → "cant") and separating (French
        // "j'étouffe" → "j etouffe"); patterns are written the way that fits their language.
        let readings = [Self.words(transcript), Self.words(transcript, apostrophesSeparate: true)]
        for pattern in patterns where readings.contains(where: { Self.matches(pattern.words, in: $0) }) {
            return Match(kind: pattern.kind, pattern: pattern.text)
        }
        return nil
    }

    /// Lower-case words without accents, apostrophes joining the letters around them (or
    /// separating them), everything else a separator (but a pattern's `*`); `ß` as `ss`.
    static func words(_ text: String, apostrophesSeparate: Bool = false) -> [String] {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
            .replacingOccurrences(of: "ß", with: "ss")
            .replacingOccurrences(of: "’", with: "'")
            .replacingOccurrences(of: "'", with: apostrophesSeparate ? " " : "")
        return folded.split { !($0.isLetter || $0.isNumber || $0 == "\u{1}" || $0 == "*") }.map(String.init)
    }

    /// Whether `pattern` (words and gaps) occurs in `words`. A pattern word ending in `*`
    /// matches any word it begins.
    static func matches(_ pattern: [String], in words: [String]) -> Bool {
        guard let first = pattern.first(where: { !$0.isEmpty }) else { return false }
        for start in words.indices where word(words[start], matches: first) {
            if match(pattern.drop(while: { $0.isEmpty }).dropFirst(), words, from: words.index(after: start)) { return true }
        }
        return false
    }

    private static func match(_ pattern: ArraySlice<String>, _ words: [String], from index: Int) -> Bool {
        guard let next = pattern.first else { return true }
        if next.isEmpty {
            // A gap: the rest may start here or up to maximumGap words later.
            let rest = pattern.dropFirst()
            for skip in 0...maximumGap where index + skip <= words.count {
                if match(rest, words, from: index + skip) { return true }
            }
            return false
        }
        guard index < words.count, word(words[index], matches: next) else { return false }
        return match(pattern.dropFirst(), words, from: index + 1)
    }

    private static func word(_ word: String, matches pattern: String) -> Bool {
        pattern.hasSuffix("*") ? word.hasPrefix(pattern.dropLast()) : word == pattern
    }
}
