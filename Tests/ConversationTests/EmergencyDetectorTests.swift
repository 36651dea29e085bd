import Conversation
import TestSupport
import Testing

/// Emergencies are caught before any model, every time; ordinary questions are not.
@Suite struct EmergencyDetectorTests {
    @Test func everyEmergencyIsCaught() {
        let detector = EmergencyDetector()
        #expect(ConversationCorpus.emergencies.count >= 40)
        let missed = ConversationCorpus.emergencies.filter { detector.finding(in: $0) == nil }
        #expect(missed.isEmpty, "not escalated: \(missed)")
    }

    @Test func ordinaryQuestionsAreNotEscalated() {
        let detector = EmergencyDetector()
        let escalated = ConversationCorpus.ordinaryQuestions.compactMap { question in detector.finding(in: question).map { "\(question) → \($0.kind) (\($0.pattern))" } }
        // Reported in docs/CONVERSATION.md; the bar is that none of these escalate.
        #expect(escalated.isEmpty, "false escalations: \(escalated)")
    }

    @Test func patternsFoldCaseAccentsAndApostrophes() {
        let detector = EmergencyDetector(phrases: ["test": ["cant breathe", "evanoui*", "pain … chest"]])
        #expect(detector.finding(in: "I CAN'T BREATHE")?.kind == "test")
        #expect(detector.finding(in: "I can’t breathe") != nil, "typographic apostrophe")
        #expect(detector.finding(in: "je me suis évanouie") != nil, "accent folded, prefix word")
        #expect(detector.finding(in: "pain in my left chest") != nil, "a gap of three words")
        #expect(detector.finding(in: "pain in the middle of my chest") == nil, "not more than three")
        #expect(detector.finding(in: "chest pain") == nil, "order matters")
    }
}
