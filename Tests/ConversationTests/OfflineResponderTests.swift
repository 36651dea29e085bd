import Conversation
import Foundation
import HHProtocol
import Testing

@Suite struct OfflineResponderTests {
    let knowledge = ClinicKnowledge(name: "North Clinic", entries: [
        .init(topic: "opening_hours", asks: ["opening hours", "when … open", "when … close", "what time … close"], answer: "North Clinic is open 8 am to 6 pm, Monday to Friday."),
        .init(topic: "pharmacy", asks: ["pharmacy", "chemist"], answer: "The pharmacy is on the ground floor, past the lifts."),
    ])

    @Test func theHeartRateIsQuotedWithItsQualityAndNeverInventedWithoutAReading() {
        let responder = OfflineResponder(knowledge: knowledge)
        let clear = responder.reply(to: "What is my heart rate?", vitals: TurnVitals(heartRateBpm: 71.6, heartRateSnrDb: 7.2))
        #expect(clear.intent == "heart_rate" && clear.text.contains("72 beats per minute") && clear.text.contains("clear"))
        let weak = responder.reply(to: "what's my pulse", vitals: TurnVitals(heartRateBpm: 90, heartRateSnrDb: 1))
        #expect(weak.text.contains("90") && weak.text.contains("rough guide"))
        let none = responder.reply(to: "What is my heart rate?", vitals: TurnVitals())
        #expect(!none.text.contains(where: \.isNumber) || none.text.contains("fifteen"), "no number without a reading: \(none.text)")
        #expect(none.text.contains("don't have a heart-rate reading"))
    }

    @Test func clinicFactsComeFromTheClinicsFileOnly() {
        let responder = OfflineResponder(knowledge: knowledge)
        #expect(responder.reply(to: "When does the clinic close?", vitals: TurnVitals()).text == knowledge.entries[0].answer)
        #expect(responder.reply(to: "Where is the pharmacy?", vitals: TurnVitals()).text == knowledge.entries[1].answer)
        let elsewhere = OfflineResponder(knowledge: ClinicKnowledge(name: "South", entries: []))
        let unknown = elsewhere.reply(to: "When does the clinic close?", vitals: TurnVitals())
        #expect(unknown.intent == "unknown" && unknown.text.contains("can't help with that here"), "no invented hours")
    }

    @Test func itNeverDiagnosesOrPrescribes() {
        let responder = OfflineResponder(knowledge: knowledge)
        for question in ["Do I have heart disease?", "What medicine should I take?", "Is my heart rate dangerous?", "Should I stop my pills?"] {
            let reply = responder.reply(to: question, vitals: TurnVitals(heartRateBpm: 120, heartRateSnrDb: 8)).text.lowercased()
            for word in ["diagnos", "you have ", "take this", "prescri", "dose", "disease"] {
                #expect(!reply.contains(word), "\(question) → \(reply)")
            }
        }
    }

    @Test func aKnowledgeFileReads() throws {
        let data = Data(#"{"name":"North","entries":[{"topic":"parking","asks":["parking"],"answer":"Parking is behind the building."}]}"#.utf8)
        let loaded = try ClinicKnowledge.load(from: data)
        #expect(OfflineResponder(knowledge: loaded).reply(to: "Is there parking?", vitals: TurnVitals()).text == "Parking is behind the building.")
    }
}
