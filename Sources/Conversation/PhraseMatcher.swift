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

    /// One place in a pattern.
    enum Token: Sendable, Hashable {
        /// This word.
        case word(String)
        /// Any word beginning so (`chok*`).
        case prefix(String)
        /// Up to ``maximumGap`` words (`…`).
        case gap

        init(_ text: String) {
            if text == "\u{1}" {
                self = .gap
            } else if text.hasSuffix("*") {
                self = .prefix(String(text.dropLast()))
            } else {
                self = .word(text)
            }
        }

        func matches(_ word: String) -> Bool {
            switch self {
            case .word(let text): word == text
            case .prefix(let start): word.hasPrefix(start)
            case .gap: false
            }
        }
    }

    private struct Pattern: Sendable {
        var kind: String
        var text: String
        /// The pattern's words and gaps, in order.
        var tokens: [Token]
    }

    /// The most words a `…` in a pattern stands for.
    public static let maximumGap = 3

    private let patterns: [Pattern]

    /// A matcher for `phrases` (kind → patterns); kinds are tried in name order.
    public init(phrases: [String: [String]]) {
        patterns = phrases.sorted { $0.key < $1.key }.flatMap { kind, texts in
            texts.map { text in
                Pattern(kind: kind, text: text, tokens: Self.words(text.replacingOccurrences(of: "…", with: " \u{1} ")).map(Token.init))
            }
        }
    }

    /// The first phrase in `transcript`, or `nil`.
    public func match(in transcript: String) -> Match? {
        // Read twice: apostrophes joining (English "can't" → "cant") and separating (French
        // "j'étouffe" → "j etouffe"); patterns are written the way that fits their language.
        let joined = Self.words(transcript)
        let hasApostrophe = transcript.contains("'") || transcript.contains("’")
        let readings = hasApostrophe ? [joined, Self.words(transcript, apostrophesSeparate: true)] : [joined]
        for pattern in patterns where readings.contains(where: { Self.matches(pattern.tokens, in: $0) }) {
            return Match(kind: pattern.kind, pattern: pattern.text)
        }
        return nil
    }

    /// Lower-case words without accents, apostrophes joining the letters around them (or
    /// separating them), everything else a separator (but a pattern's `*`); `ß` as `ss`.
    static func words(_ text: String, apostrophesSeparate: Bool = false) -> [String] {
        // Plain ASCII (most transcripts) needs only lower case; the rest goes through folding.
        let folded = text.utf8.allSatisfy { $0 < 0x80 } ? text.lowercased()
            : text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
                .replacingOccurrences(of: "ß", with: "ss")
        var words: [String] = []
        var word = ""
        for character in folded {
            if character == "'" || character == "’" {
                if apostrophesSeparate, !word.isEmpty { words.append(word); word = "" }
            } else if character.isLetter || character.isNumber || character == "\u{1}" || character == "*" {
                word.append(character)
            } else if !word.isEmpty {
                words.append(word)
                word = ""
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }

    /// Whether `pattern` (words and gaps) occurs in `words`.
    static func matches(_ pattern: [Token], in words: [String]) -> Bool {
        let body = pattern.drop { $0 == .gap }
        guard let first = body.first else { return false }
        for start in words.indices where first.matches(words[start]) {
            if match(body.dropFirst(), words, from: start + 1) { return true }
        }
        return false
    }

    private static func match(_ pattern: ArraySlice<Token>, _ words: [String], from index: Int) -> Bool {
        guard let next = pattern.first else { return true }
        if next == .gap {
            // A gap: the rest may start here or up to maximumGap words later.
            let rest = pattern.dropFirst()
            for skip in 0...maximumGap where index + skip <= words.count {
                if match(rest, words, from: index + skip) { return true }
            }
            return false
        }
        guard index < words.count, next.matches(words[index]) else { return false }
        return match(pattern.dropFirst(), words, from: index + 1)
    }
}
