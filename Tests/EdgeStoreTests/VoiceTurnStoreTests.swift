import EdgeStore
import Foundation
import Testing

@Suite struct VoiceTurnStoreTests {
    private let request = Data(#"{"id":"t","started_at":"2026-12-02T10:00:00Z"}"#.utf8)

    private func storeTurn(_ store: EdgeStore, _ id: String, session: String = "s", audioBytes: Int = 3200, at time: Double = 100) throws {
        try store.storeVoiceTurn(
            id: id, session: session, startedAt: Date(timeIntervalSince1970: time), request: request,
            audio: Data(repeating: 7, count: audioBytes), now: Date(timeIntervalSince1970: time))
    }

    @Test func aTurnWaitsWithItsAudioUntilAnsweredThenKeepsOnlyWhatWasSaid() throws {
        let store = try EdgeStore(path: temporaryStorePath())
        try storeTurn(store, "t1")
        try store.storeVoiceTurn(
            id: "t1", session: "s", startedAt: Date(), request: Data("{}".utf8), audio: Data([1]), now: Date())
        let due = try store.dueVoiceTurns(now: Date(timeIntervalSince1970: 100))
        #expect(due.map(\.id) == ["t1"])
        #expect(due.first?.audio?.count == 3200, "storing the same id again changes nothing")
        #expect(due.first?.request == request)

        try store.markVoiceTurnWaiting(id: "t1", error: "relay down", notBefore: Date(timeIntervalSince1970: 200))
        #expect(try store.dueVoiceTurns(now: Date(timeIntervalSince1970: 150)).isEmpty, "not before its time")
        #expect(try store.nextVoiceTurnDue() == Date(timeIntervalSince1970: 200))
        #expect(try store.voiceTurnBacklog().waiting == 1)
        try store.makeAllVoiceTurnsDue()
        #expect(try store.dueVoiceTurns(now: Date(timeIntervalSince1970: 150)).map(\.attempts) == [1])

        try store.markVoiceTurnAnswered(id: "t1", transcript: "what is my heart rate", replyText: "About 72.")
        #expect(try store.dueVoiceTurns(now: Date.distantFuture).isEmpty)
        #expect(try store.nextVoiceTurnDue() == nil)
        let listed = try #require(try store.voiceTurns(sessions: ["s"]).first)
        #expect(listed.state == .answered && listed.audio == nil && listed.attempts == 2)
        #expect(listed.transcript == "what is my heart rate" && listed.replyText == "About 72." && listed.lastError == nil)
        // An answer is final: a late failure report does not reopen it.
        try store.markVoiceTurnWaiting(id: "t1", error: "late", notBefore: Date())
        #expect(try store.voiceTurns(sessions: ["s"]).first?.state == .answered)
    }

    /// A turn as sent replaces its waiting row's request and audio (fresher vitals, utterances
    /// merged into it) and takes the rows of the utterances merged into it; an answered one
    /// stays as it was answered.
    @Test func aTurnAsSentTakesTheRowsOfTheUtterancesMergedIntoIt() throws {
        let store = try EdgeStore(path: temporaryStorePath())
        for id in ["t1", "t2", "t3"] { try storeTurn(store, id) }
        #expect(try store.nextVoiceTurnDue(excluding: ["t1", "t2", "t3"]) == nil, "held turns are not due")
        #expect(try store.nextVoiceTurnDue(excluding: ["t1", "t2"]) == Date(timeIntervalSince1970: 0))
        let merged = Data(#"{"id":"t2","merged":true}"#.utf8)
        try store.storeVoiceTurnAsSent(
            id: "t2", session: "s", startedAt: Date(timeIntervalSince1970: 100), request: merged, audio: Data(repeating: 8, count: 9_000),
            absorbing: ["t3"], now: Date())
        let due = try store.dueVoiceTurns(now: Date.distantFuture)
        #expect(due.map(\.id) == ["t1", "t2"])
        #expect(due.last?.request == merged && due.last?.audio?.count == 9_000)

        try store.markVoiceTurnAnswered(id: "t1", transcript: "hello", replyText: "Hello.")
        try store.storeVoiceTurnAsSent(
            id: "t1", session: "s", startedAt: Date(timeIntervalSince1970: 100), request: merged, audio: Data([1]), absorbing: [], now: Date())
        let answered = try #require(try store.voiceTurns(sessions: ["s"]).first)
        #expect(answered.state == .answered && answered.request == request && answered.transcript == "hello")
    }

    @Test func aRefusedTurnIsSetAsideWithTheReasonAndWithoutItsAudio() throws {
        let store = try EdgeStore(path: temporaryStorePath())
        try storeTurn(store, "t1")
        try store.markVoiceTurnFailed(id: "t1", reason: "HTTP 409: other audio under this id")
        #expect(try store.dueVoiceTurns(now: Date.distantFuture).isEmpty)
        let listed = try #require(try store.voiceTurns(sessions: ["s"]).first)
        #expect(listed.state == .failed && listed.lastError == "HTTP 409: other audio under this id")
        #expect(listed.audio == nil, "a turn never to be sent keeps no recording of the patient")
    }

    @Test func turnsAreSentOldestFirstAndListedPerSession() throws {
        let store = try EdgeStore(path: temporaryStorePath())
        for (index, id) in ["t1", "t2", "t3"].enumerated() { try storeTurn(store, id, session: index == 1 ? "other" : "s") }
        #expect(try store.dueVoiceTurns(now: Date.distantFuture).map(\.id) == ["t1", "t2", "t3"])
        #expect(try store.dueVoiceTurns(now: Date.distantFuture, limit: 2).map(\.id) == ["t1", "t2"])
        #expect(try store.voiceTurns(sessions: ["s"]).map(\.id) == ["t1", "t3"])
        #expect(try store.voiceTurns(sessions: []).isEmpty)
    }

    @Test func turnsSurviveReopeningTheStore() throws {
        let path = temporaryStorePath()
        do {
            let store = try EdgeStore(path: path)
            try storeTurn(store, "t1")
        }
        let reopened = try EdgeStore(path: path)
        #expect(try reopened.dueVoiceTurns(now: Date.distantFuture).map(\.id) == ["t1"])
    }

    @Test func overTheQuotaTheOldestWaitingAudioGoesFirstWhicheverItIs() throws {
        var options = EdgeStore.Options()
        options.quotaBytes = 600_000
        let store = try EdgeStore(path: temporaryStorePath(), options: options)
        try storeTurn(store, "old-turn", audioBytes: 100_000, at: 50)
        try addSession(store, "session", at: 100, seconds: 3, documentBytes: 100_000)
        for index in 0..<6 { try storeTurn(store, "turn-\(index)", audioBytes: 100_000, at: 200 + Double(index)) }
        #expect(try store.usage().usedBytes <= options.quotaBytes)
        let left = try store.dueVoiceTurns(now: Date.distantFuture, limit: 100).map(\.id)
        #expect(!left.contains("old-turn"), "the oldest turn went first")
        #expect(left.contains("turn-5"), "the newest stays")
        #expect(try store.voiceTurnBacklog().evicted >= 1)
        let sessionsLeft = try store.outboxOrder().count
        #expect(try store.outboxStatistics().evicted + store.voiceTurnBacklog().evicted == 8 - left.count - sessionsLeft, "every eviction counted")
    }

    @Test func answeredTurnsOfSessionsNoLongerListedAreForgotten() throws {
        var options = EdgeStore.Options()
        options.deliveredHistory = 1
        let store = try EdgeStore(path: temporaryStorePath(), options: options)
        for id in ["a", "b"] {
            try addSession(store, id, at: id == "a" ? 100 : 200)
            try storeTurn(store, "turn-" + id, session: id)
            try store.markVoiceTurnAnswered(id: "turn-" + id, transcript: "hello", replyText: "Hello.")
        }
        try storeTurn(store, "waiting-a", session: "a")
        try store.markDelivered(id: "a", at: Date())
        try store.markDelivered(id: "b", at: Date())
        #expect(try store.voiceTurns(sessions: ["a"]).map(\.id) == ["waiting-a"], "a waiting turn is kept until delivered")
        #expect(try store.voiceTurns(sessions: ["b"]).map(\.id) == ["turn-b"])
    }
}
