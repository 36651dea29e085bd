import Foundation
import Kiosk
import MediaFiles
import Testing

@Suite struct ConversationMachineTests {
    let start = ContinuousClock.now
    let wall = Date(timeIntervalSince1970: 1_800_000_000)

    func turn(_ id: String, session: String = "s1", samples: [Int16] = [1, 2, 3]) -> ConversationMachine.Turn {
        .init(id: id, sessionID: session, startedAt: wall, samples: samples)
    }

    func open() -> ConversationMachine {
        var machine = ConversationMachine(turnDeadline: .seconds(10))
        _ = machine.sessionOpened("s1")
        return machine
    }

    @Test func anUtteranceIsSentAnsweredAndPlayedThroughTheStates() {
        var machine = ConversationMachine(turnDeadline: .seconds(10))
        #expect(machine.state == .idle)
        _ = machine.sessionOpened("s1")
        #expect(machine.state == .listening)
        #expect(machine.utterance(turn("t1"), now: start) == [.send(turn("t1"))])
        #expect(machine.state == .thinking)
        #expect(machine.answered("t1", .init(audioURL: "/r1"), now: start + .milliseconds(900)) == [.play(turnID: "t1", audioURL: "/r1")])
        #expect(machine.state == .speaking)
        #expect(machine.answeredTurns == 1 && machine.lastTurnLatency == .milliseconds(900))
        #expect(machine.playbackFinished("t1") == [])
        #expect(machine.state == .listening)
    }

    @Test func utterancesDuringATurnWaitAndAreMergedIntoTheNextInOrder() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        #expect(machine.utterance(turn("t2", samples: [5]), now: start + .seconds(1)) == [])
        #expect(machine.utterance(turn("t3", samples: [7, 8]), now: start + .seconds(2)) == [])
        let actions = machine.answered("t1", .init(audioURL: "/r1"), now: start + .seconds(3))
        let gap = [Int16](repeating: 0, count: 4_800)
        var merged = turn("t2", samples: [5] + gap + [7, 8])
        merged.absorbed = ["t3"]
        #expect(actions == [.play(turnID: "t1", audioURL: "/r1"), .send(merged)],
                "the waiting two go as one turn, under the first one's id, joined by 300 ms of silence, naming the one it took in")
        #expect(machine.state == .speaking)
    }

    @Test func speechOverAReplyStopsItAndBecomesTheNextTurn() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        _ = machine.answered("t1", .init(audioURL: "/r1"), now: start + .seconds(1))
        #expect(machine.speechStarted() == [.stopPlayback(turnID: "t1")])
        #expect(machine.state == .listening)
        #expect(machine.speechStarted() == [], "nothing playing: nothing to stop")
        #expect(machine.utterance(turn("t2"), now: start + .seconds(2)) == [.send(turn("t2"))])
        #expect(machine.playbackFinished("t1") == [], "the stopped reply's end changes nothing")
        #expect(machine.state == .thinking)
    }

    @Test func anAnswerDuringAReplyPlaysAfterItUnlessThePatientTalksOverIt() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        _ = machine.utterance(turn("t2"), now: start)
        _ = machine.answered("t1", .init(audioURL: "/r1"), now: start + .seconds(1))
        #expect(machine.answered("t2", .init(audioURL: "/r2"), now: start + .seconds(2)) == [], "queued behind /r1")
        #expect(machine.playbackFinished("t1") == [.play(turnID: "t2", audioURL: "/r2")])
        _ = machine.utterance(turn("t3"), now: start + .seconds(3))
        _ = machine.utterance(turn("t4"), now: start + .seconds(3))
        _ = machine.answered("t3", .init(audioURL: "/r3"), now: start + .seconds(4))
        #expect(machine.speechStarted() == [.stopPlayback(turnID: "t2"), .discardLateAnswer(turnID: "t3")], "barge-in drops the queue too")
    }

    @Test func anEscalationInterruptsWhateverPlaysAndGoesFirst() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        _ = machine.utterance(turn("t2"), now: start)
        _ = machine.answered("t1", .init(audioURL: "/r1"), now: start + .seconds(1))
        #expect(machine.answered("t2", .init(audioURL: "/r2", escalation: "chest_pain"), now: start + .seconds(2)) == [
            .escalate(turnID: "t2", reason: "chest_pain"), .stopPlayback(turnID: "t1"), .play(turnID: "t2", audioURL: "/r2"),
        ])
        #expect(machine.playing == "t2")
    }

    @Test func aFailedTurnIsApologisedForKeptForLaterAndItsLateAnswerNeverPlayed() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        _ = machine.utterance(turn("t2"), now: start + .seconds(1))
        #expect(machine.failed("t1", reason: "HTTP 503", now: start + .seconds(2)) == [
            .keepForLater(turn("t1"), reason: "HTTP 503"), .apologise(turnID: "t1"), .send(turn("t2")),
        ])
        #expect(machine.answered("t1", .init(audioURL: "/r1"), now: start + .seconds(3)) == [.discardLateAnswer(turnID: "t1")])
        #expect(machine.state == .thinking, "t2 still in flight")
        #expect(machine.failed("t1", reason: "again", now: start + .seconds(3)) == [], "an old failure changes nothing")
    }

    @Test func aLateAnswerNeverStartsASecondTurnAndStillShowsItsEscalation() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        _ = machine.tick(now: start + .seconds(11))  // t1 failed: kept for later, apologised for
        #expect(machine.utterance(turn("t2"), now: start + .seconds(12)) == [.send(turn("t2"))])
        #expect(machine.utterance(turn("t3"), now: start + .seconds(13)) == [], "waits for t2")
        #expect(machine.answered("t1", .init(audioURL: "/r1", escalation: "chest_pain"), now: start + .seconds(14)) == [
            .escalate(turnID: "t1", reason: "chest_pain"), .discardLateAnswer(turnID: "t1"),
        ], "shown, not played, and t3 still waits: t2 is in flight")
        #expect(machine.failed("t2", reason: "HTTP 502", now: start + .seconds(15)) == [
            .keepForLater(turn("t2"), reason: "HTTP 502"), .apologise(turnID: "t2"), .send(turn("t3")),
        ], "t2 is still the turn in flight, so its failure is handled")
    }

    @Test func aTurnPastItsDeadlineFailsOnTheInjectedClock() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        #expect(machine.tick(now: start + .seconds(10)) == [], "at the deadline, not past it")
        let actions = machine.tick(now: start + .seconds(11))
        #expect(actions.count == 2 && actions.last == .apologise(turnID: "t1"))
        guard case .keepForLater(let kept, let reason) = actions.first else {
            Issue.record("the turn is kept for later")
            return
        }
        #expect(kept == turn("t1") && reason.contains("no answer within"))
        #expect(machine.answered("t1", .init(audioURL: "/r1"), now: start + .seconds(12)) == [.discardLateAnswer(turnID: "t1")])
        #expect(machine.state == .listening)
    }

    @Test func aClosedSessionPlaysNothingMoreAndKeepsWhatWasNotSent() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        _ = machine.utterance(turn("t2"), now: start)
        #expect(machine.sessionClosed("s1") == [.keepForLater(turn("t2"), reason: "the session closed before it was sent")])
        #expect(machine.state == .idle)
        #expect(machine.turnsWithTheRelay == 1, "t1 is still with the relay (it will store it)")
        #expect(machine.answered("t1", .init(audioURL: "/r1"), now: start + .seconds(1)) == [.discardLateAnswer(turnID: "t1")])
        #expect(machine.turnsWithTheRelay == 0)
        #expect(machine.utterance(turn("t3"), now: start) == [.keepForLater(turn("t3"), reason: "no open session")])
        // A failure after the session closed: kept, but no apology to nobody.
        _ = machine.sessionOpened("s2")
        _ = machine.utterance(turn("t4", session: "s2"), now: start)
        _ = machine.sessionClosed("s2")
        #expect(machine.failed("t4", reason: "timeout", now: start + .seconds(1)) == [.keepForLater(turn("t4", session: "s2"), reason: "timeout")])
    }

    @Test func theNextPatientsTurnIsSentAtOnceThoughTheLastSessionsIsStillWithTheRelay() {
        var machine = open()
        _ = machine.utterance(turn("t1"), now: start)
        _ = machine.sessionClosed("s1")
        _ = machine.sessionOpened("s2")
        #expect(machine.utterance(turn("t2", session: "s2"), now: start + .seconds(1)) == [.send(turn("t2", session: "s2"))])
        #expect(machine.state == .thinking && machine.turnsWithTheRelay == 2)
        // The last session's answer is not played into this one, and does not end this turn.
        #expect(machine.answered("t1", .init(audioURL: "/r1"), now: start + .seconds(2)) == [.discardLateAnswer(turnID: "t1")])
        #expect(machine.state == .thinking && machine.turnsWithTheRelay == 1)
        #expect(machine.answered("t2", .init(audioURL: "/r2"), now: start + .seconds(3)) == [.play(turnID: "t2", audioURL: "/r2")])

        // Past its deadline, a closed session's turn is kept for later, without an apology to
        // the patient now at the kiosk; the open session's own turn is failed as before.
        _ = machine.playbackFinished("t2")
        _ = machine.utterance(turn("t3", session: "s2"), now: start + .seconds(4))
        _ = machine.sessionClosed("s2")
        _ = machine.sessionOpened("s3")
        _ = machine.utterance(turn("t4", session: "s3"), now: start + .seconds(5))
        let ticked = machine.tick(now: start + .seconds(14.5))
        #expect(ticked == [.keepForLater(turn("t3", session: "s2"), reason: "no answer within 10.0 seconds")])
        #expect(machine.failed("t3", reason: "timeout", now: start + .seconds(15)) == [], "already kept")
        #expect(machine.tick(now: start + .seconds(15.5)) == [
            .keepForLater(turn("t4", session: "s3"), reason: "no answer within 10.0 seconds"), .apologise(turnID: "t4"),
        ])
        #expect(machine.turnsWithTheRelay == 0)
    }
}

@Suite struct StreamedWAVDecoderTests {
    @Test func samplesComeOutWhateverPiecesTheNetworkCutsTheStreamInto() throws {
        let samples: [Int16] = (0..<1_001).map { Int16(truncatingIfNeeded: $0 * 977) }
        let bytes = WAVBytes.header(sampleRate: 16_000, frameCount: nil) + WAVBytes.payload(samples)
        for pieceSize in [1, 3, 43, 44, 45, 1_000] {
            var decoder = StreamedWAVDecoder()
            var decoded: [Int16] = []
            var offset = 0
            while offset < bytes.count {
                decoded += try decoder.push(Array(bytes[offset..<min(bytes.count, offset + pieceSize)]))
                offset += pieceSize
            }
            #expect(decoded == samples, "pieces of \(pieceSize) bytes")
        }
        var known = StreamedWAVDecoder()
        #expect(try known.push(WAVBytes.file(samples, sampleRate: 16_000)) == samples, "a header with its sizes known reads too")
    }

    @Test func aReplyInAnotherFormatIsAClearError() {
        var decoder = StreamedWAVDecoder()
        #expect(throws: RelayClientError.self) { try decoder.push(WAVBytes.header(sampleRate: 22_050, frameCount: nil)) }
        var text = StreamedWAVDecoder()
        #expect(throws: RelayClientError.self) { try text.push(Array(String(repeating: "<html>", count: 10).utf8)) }
    }
}
