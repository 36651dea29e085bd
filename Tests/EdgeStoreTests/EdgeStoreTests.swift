import EdgeStore
import Foundation
import Synchronization
import Testing

func temporaryStorePath() -> String {
    let directory = NSTemporaryDirectory() + "edgestore-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory + "/hhd.sqlite"
}

/// Opens, records a few seconds and closes a session with a small JSON document.
func addSession(_ store: EdgeStore, _ id: String, at start: Double, seconds: Int = 3, documentBytes: Int = 100) throws {
    try store.openSession(id: id, startedAt: Date(timeIntervalSince1970: start))
    for second in 0..<seconds { try store.record(VitalsSecond(t: Double(second), bpm: 70, snrDb: 5), session: id) }
    let document = Data(#"{"id":"\#(id)","pad":"\#(String(repeating: "x", count: documentBytes))"}"#.utf8)
    try store.closeSession(id: id, endedAt: Date(timeIntervalSince1970: start + Double(seconds)), document: document)
}

@Suite struct EdgeStoreTests {
    /// hhd and anything else that opens its database (a test, a tool) may both find it new:
    /// each must see the schema made once, not make it again and fail ("table already exists").
    @Test func storesOpenedAtOnceOnANewFileMakeTheSchemaOnce() throws {
        for _ in 0..<30 {
            let path = temporaryStorePath()
            let failures = Mutex([String]())
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do { _ = try EdgeStore(path: path) } catch { failures.withLock { $0.append("\(error)") } }
            }
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
            #expect(try EdgeStore(path: path).openSessions().isEmpty)
        }
    }

    @Test func openSessionsKeepTheirSecondsAndClosedOnesQueueInOrder() throws {
        let store = try EdgeStore(path: temporaryStorePath())
        try store.openSession(id: "a", startedAt: Date(timeIntervalSince1970: 100))
        try store.record(VitalsSecond(t: 0, bpm: 71, snrDb: 4.5, respirationBpm: 14), session: "a")
        try store.record(VitalsSecond(t: 1), session: "a")
        try store.record(StoredTurn(id: "u1", start: 0.5, end: 1.5), session: "a")
        #expect(try store.openSessions() == [OpenSession(id: "a", startedAt: Date(timeIntervalSince1970: 100))])
        #expect(try store.measurements(session: "a") == [VitalsSecond(t: 0, bpm: 71, snrDb: 4.5, respirationBpm: 14), VitalsSecond(t: 1)])
        #expect(try store.turns(session: "a") == [StoredTurn(id: "u1", start: 0.5, end: 1.5)])
        #expect(try store.outboxHead() == nil, "an open session is not deliverable")

        try store.closeSession(id: "a", endedAt: Date(timeIntervalSince1970: 102), document: Data("A".utf8))
        try addSession(store, "b", at: 200)
        #expect(try store.openSessions().isEmpty)
        #expect(try store.outboxHead()?.id == "a")
        #expect(try store.outboxOrder() == ["a", "b"])
        #expect(try store.outboxStatistics().depth == 2)
        #expect(try store.measurements(session: "a").isEmpty, "the document holds them now")

        // Recording into a closed or unknown session is refused.
        #expect(throws: StoreError.unknownSession("a")) { try store.record(VitalsSecond(t: 5), session: "a") }
        #expect(throws: StoreError.unknownSession("zz")) { try store.record(VitalsSecond(t: 5), session: "zz") }
    }

    @Test func deliveryDeletesTheSessionAndKeepsOnlyItsListing() throws {
        let store = try EdgeStore(path: temporaryStorePath())
        try addSession(store, "a", at: 100)
        try addSession(store, "b", at: 200)
        try store.markFailed(id: "a", error: "HTTP 503", notBefore: Date(timeIntervalSince1970: 5000))
        var head = try #require(try store.outboxHead())
        #expect(head.id == "a" && head.attempts == 1 && head.notBefore == Date(timeIntervalSince1970: 5000))
        try store.makeAllDue()
        head = try #require(try store.outboxHead())
        #expect(head.notBefore == nil)
        try store.markDelivered(id: "a", at: Date(timeIntervalSince1970: 300))
        #expect(try store.outboxHead()?.id == "b")
        let statistics = try store.outboxStatistics()
        #expect(statistics.depth == 1 && statistics.delivered == 1)
        let listing = try store.recentSessions(limit: 10)
        #expect(listing.map(\.id) == ["b", "a"])
        #expect(listing.map(\.state) == [.pending, .delivered])
        #expect(listing[1].attempts == 2)
        // Delivering twice (an acknowledgement replayed) changes nothing.
        try store.markDelivered(id: "a", at: Date(timeIntervalSince1970: 400))
        #expect(try store.outboxStatistics().delivered == 1)
    }

    @Test func aRejectedSessionIsSetAsideWithItsReason() throws {
        let store = try EdgeStore(path: temporaryStorePath())
        try addSession(store, "a", at: 100)
        try addSession(store, "b", at: 200)
        try store.markRejected(id: "a", reason: "HTTP 409: conflict")
        #expect(try store.outboxHead()?.id == "b")
        let statistics = try store.outboxStatistics()
        #expect(statistics.depth == 1 && statistics.rejected == 1)
        let rejected = try store.recentSessions(limit: 10).first { $0.id == "a" }
        #expect(rejected?.state == .rejected && rejected?.detail == "HTTP 409: conflict")
    }

    @Test func everythingCommittedIsThereAfterReopening() throws {
        let path = temporaryStorePath()
        do {
            let store = try EdgeStore(path: path)
            try addSession(store, "a", at: 100)
            try store.openSession(id: "b", startedAt: Date(timeIntervalSince1970: 200))
            try store.record(VitalsSecond(t: 0, bpm: 65), session: "b")
        }
        let reopened = try EdgeStore(path: path)
        #expect(try reopened.outboxHead()?.id == "a")
        #expect(try reopened.openSessions().map(\.id) == ["b"])
        #expect(try reopened.measurements(session: "b") == [VitalsSecond(t: 0, bpm: 65)])
    }

    @Test func overTheQuotaTheOldestWaitingSessionsAreEvictedAndCounted() throws {
        var options = EdgeStore.Options()
        options.quotaBytes = 400_000
        let store = try EdgeStore(path: temporaryStorePath(), options: options)
        for index in 0..<40 { try addSession(store, String(format: "s%02d", index), at: Double(index * 100), documentBytes: 20_000) }
        let statistics = try store.outboxStatistics()
        #expect(statistics.evicted > 0)
        #expect(statistics.depth + statistics.evicted == 40)
        #expect(try store.usage().usedBytes <= options.quotaBytes)
        // The oldest went first: the newest is still there, the head is a later one.
        #expect(try store.outboxHead()?.id == String(format: "s%02d", statistics.evicted))
        #expect(try store.recentSessions(limit: 1).first?.id == "s39")
    }

    @Test func aFullDiskIsAnErrorNotACrashAndTheStoreGoesOnAfterwards() throws {
        var options = EdgeStore.Options()
        options.hardLimitBytes = 160_000
        options.quotaBytes = 10_000_000
        let store = try EdgeStore(path: temporaryStorePath(), options: options)
        try addSession(store, "kept", at: 0)
        var full: StoreError?
        for index in 0..<100 {
            do { try addSession(store, "s\(index)", at: Double(100 * (index + 1)), documentBytes: 8_000) } catch {
                full = error as? StoreError
                break
            }
        }
        guard case .full = try #require(full) else {
            Issue.record("expected a full-disk error, got \(String(describing: full))")
            return
        }
        // What was committed before is intact and deliverable; freeing space lets work resume.
        #expect(try store.outboxHead()?.id == "kept")
        try store.markDelivered(id: "kept", at: Date())
        while let head = try store.outboxHead() { try store.markDelivered(id: head.id, at: Date()) }
        try addSession(store, "after", at: 1_000_000)
        #expect(try store.outboxHead()?.id == "after")
    }

    @Test func aFileThatIsNotADatabaseIsAClearError() throws {
        let path = temporaryStorePath()
        try Data("this is not sqlite, just text that is long enough to have a header....................".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try EdgeStore(path: path)
        } throws: { error in
            guard case .unavailable(let message) = error as? StoreError else { return false }
            return message.contains(path)
        }
    }
}
