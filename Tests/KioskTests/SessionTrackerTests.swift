import EdgeStore
import Kiosk
import Synchronization
import Testing
import VitalsCore

/// Sequential ids: s1, s2, …
func counterIDs() -> @Sendable () -> String {
    let counter = Atomic<Int>(0)
    return { "s\(counter.add(1, ordering: .relaxed).newValue)" }
}

func estimate(_ time: Double, _ bpm: Double?) -> VitalsEstimate {
    VitalsEstimate(time: time, status: bpm == nil ? .noFace : .ok, heartRate: bpm, snr: bpm == nil ? nil : 6)
}

@Suite struct SessionTrackerTests {
    @Test func aSessionSpansThePresenceAndEndsAfterTheAbsenceTimeout() {
        var tracker = SessionTracker(configuration: .init(absenceTimeout: 10), makeID: counterIDs())
        var actions: [SessionTracker.Action] = []
        for second in 0..<60 {
            let present = (5..<25).contains(second)
            actions += tracker.handle(.presence(time: Double(second), face: present))
        }
        #expect(actions == [.open(id: "s1", time: 5), .close(id: "s1", time: 25, reason: .absence)])
        #expect(tracker.current == nil)
    }

    @Test func aShortLookAwayDoesNotSplitTheSession() {
        var tracker = SessionTracker(configuration: .init(absenceTimeout: 10), makeID: counterIDs())
        var actions: [SessionTracker.Action] = []
        for second in 0..<50 {
            actions += tracker.handle(.presence(time: Double(second), face: second < 12 || (20..<30).contains(second)))
        }
        #expect(actions == [.open(id: "s1", time: 0), .close(id: "s1", time: 30, reason: .absence)])
    }

    @Test func estimatesBecomeMeasurementsRelativeToTheStartEvenWhenTheyArriveLate() {
        var tracker = SessionTracker(configuration: .init(absenceTimeout: 10), makeID: counterIDs())
        _ = tracker.handle(.presence(time: 3, face: true))
        _ = tracker.handle(.presence(time: 9, face: true))
        // An estimate describing a time before the session belongs to nobody.
        #expect(tracker.handle(.vitals(estimate(2, 70))) == [])
        // One describing t = 4 arrives after presence at 9: still recorded, at 1 s into the session.
        #expect(tracker.handle(.vitals(estimate(4, 71))) == [.measure(id: "s1", VitalsSecond(t: 1, bpm: 71, snrDb: 6))])
        #expect(tracker.handle(.vitals(estimate(5, nil))) == [.measure(id: "s1", VitalsSecond(t: 2))])
    }

    @Test func speechAloneOpensASessionAndTurnsAreRelativeToItsStart() {
        var tracker = SessionTracker(configuration: .init(absenceTimeout: 10), makeID: counterIDs())
        var actions = tracker.handle(.utterance(id: "u1", start: 40, end: 42.5))
        #expect(actions == [.open(id: "s1", time: 40), .turn(id: "s1", StoredTurn(id: "u1", start: 0, end: 2.5))])
        actions = tracker.handle(.presence(time: 44, face: true))
        #expect(actions == [])
        actions = tracker.handle(.utterance(id: "u2", start: 50, end: 51))
        #expect(actions == [.turn(id: "s1", StoredTurn(id: "u2", start: 10, end: 11))])
        #expect(tracker.advance(to: 60.9) == [])
        #expect(tracker.advance(to: 61) == [.close(id: "s1", time: 51, reason: .absence)])
    }

    /// A 16 s reply with nobody in view (the camera does not see the patient who asked):
    /// the session stays open while the kiosk answers, and the absence timeout runs from the
    /// answer's end. Without the answer, the same seconds close it.
    @Test func theSessionStaysOpenWhileTheKioskAnswers() {
        func run(answering: Bool) -> [SessionTracker.Action] {
            var tracker = SessionTracker(configuration: .init(absenceTimeout: 10), makeID: counterIDs())
            var actions = tracker.handle(.utterance(id: "u1", start: 40, end: 42))
            for second in 42...70 {
                actions += tracker.handle(.presence(time: Double(second), face: false))
                actions += tracker.advance(to: Double(second), answering: answering && second <= 58)
            }
            return actions
        }
        let opened = SessionTracker.Action.open(id: "s1", time: 40)
        let turn = SessionTracker.Action.turn(id: "s1", StoredTurn(id: "u1", start: 0, end: 2))
        #expect(run(answering: true) == [opened, turn, .close(id: "s1", time: 58, reason: .absence)])
        #expect(run(answering: false) == [opened, turn, .close(id: "s1", time: 42, reason: .absence)])
    }

    @Test func answeringOpensNoSessionAndDoesNotReviveOneWhoseTimeIsUp() {
        var tracker = SessionTracker(configuration: .init(absenceTimeout: 10), makeID: counterIDs())
        #expect(tracker.advance(to: 5, answering: true) == [])
        #expect(tracker.current == nil)
        _ = tracker.handle(.presence(time: 10, face: true))
        #expect(tracker.advance(to: 21, answering: true) == [.close(id: "s1", time: 11, reason: .absence)])
        #expect(tracker.current == nil)
    }

    /// An answer that seems never to end (a speaker that stopped reporting) holds the session
    /// for the longest answer, not until the session's maximum length; the next answer is held
    /// again.
    @Test func anAnswerThatRunsOnHoldsTheSessionOnlyForTheLongestAnswer() {
        var tracker = SessionTracker(configuration: .init(absenceTimeout: 10, longestAnswer: 60), makeID: counterIDs())
        var actions = tracker.handle(.utterance(id: "u1", start: 0, end: 2))
        for second in 2...200 { actions += tracker.advance(to: Double(second), answering: true) }
        #expect(actions.last == .close(id: "s1", time: 62, reason: .absence))
        // The speaker reports at last; a new patient asks, and is answered for 27 s.
        #expect(tracker.advance(to: 250, answering: false) == [])
        actions = tracker.handle(.utterance(id: "u2", start: 300, end: 302))
        for second in 302...335 { actions += tracker.advance(to: Double(second), answering: second < 330) }
        #expect(actions.contains(.open(id: "s2", time: 300)))
        #expect(tracker.current?.lastSeen == 329, "held by the new answer")
    }

    @Test func longVisitsAreCutAtTheMaximumLengthAndContinueInANewSession() {
        var tracker = SessionTracker(configuration: .init(absenceTimeout: 10, maximumLength: 60), makeID: counterIDs())
        var actions: [SessionTracker.Action] = []
        for second in 0..<100 { actions += tracker.handle(.presence(time: Double(second), face: true)) }
        #expect(actions == [.open(id: "s1", time: 0), .close(id: "s1", time: 60, reason: .maximumLength), .open(id: "s2", time: 60)])
        #expect(tracker.finish(at: 100) == [.close(id: "s2", time: 100, reason: .shutdown)])
        #expect(tracker.finish(at: 101) == [])
    }
}

@Suite struct EventMergerTests {
    @Test func eventsWaitUntilEverySourceHasPassedTheirTime() {
        var merger = EventMerger(sources: [.video, .audio])
        merger.push(.presence(time: 0, face: true), progress: 1, from: .video)
        merger.push(.presence(time: 1, face: true), progress: 2, from: .video)
        #expect(merger.release().isEmpty, "audio has not reported yet")
        merger.push(nil, progress: 0.5, from: .audio)
        #expect(merger.release() == [.presence(time: 0, face: true)])
        merger.push(.utterance(id: "u", start: 0.2, end: 1.5), progress: 1.6, from: .audio)
        #expect(merger.release() == [.presence(time: 1, face: true), .utterance(id: "u", start: 0.2, end: 1.5)])
    }

    @Test func aSourceThatStopsNoLongerHoldsTheOthersBack() {
        var merger = EventMerger(sources: [.video, .audio])
        merger.push(.presence(time: 5, face: false), progress: 6, from: .video)
        #expect(merger.release().isEmpty)
        merger.finish(.audio)
        #expect(merger.release() == [.presence(time: 5, face: false)])
        #expect(merger.watermark == 6)
        merger.resume(.audio, at: 10)
        merger.push(.presence(time: 12, face: false), progress: 13, from: .video)
        #expect(merger.release().isEmpty, "audio is back at 10")
    }
}
