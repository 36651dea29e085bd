import Devices
import EdgeStore
import Foundation
import HHProtocol
import Kiosk
import KioskControl
import Logging
import Synchronization
import Testing

/// A speaker that keeps what it was given: the samples written, and how each reply ended.
final class RecordingSpeaker: AudioSink, @unchecked Sendable {
    let name = "recording"
    /// What a device still holds (and can take back): nothing, or the given frames.
    let pendingFrames: Int
    private let state = Mutex<(samples: [Int16], discards: Int, drains: Int, opens: Int, rewinds: Int, closes: Int, writes: Int, underruns: Int)>(([], 0, 0, 0, 0, 0, 0, 0))
    /// Delay of each write, like a device taking a block (zero: at once).
    let writeDelay: Duration
    /// When set, every write after the first waits for a signal (a device that stalls).
    let gate: DispatchSemaphore?
    /// The writes (counted from 1) before which the device had run out of samples and restarted.
    let runsOutBeforeWrites: Set<Int>

    init(writeDelay: Duration = .zero, gate: DispatchSemaphore? = nil, pendingFrames: Int = 0, runsOutBeforeWrites: Set<Int> = []) {
        self.writeDelay = writeDelay
        self.gate = gate
        self.pendingFrames = pendingFrames
        self.runsOutBeforeWrites = runsOutBeforeWrites
    }

    var underruns: Int { state.withLock { $0.underruns } }

    var samples: [Int16] { state.withLock { $0.samples } }
    var discards: Int { state.withLock { $0.discards } }
    var drains: Int { state.withLock { $0.drains } }
    var opens: Int { state.withLock { $0.opens } }
    var rewinds: Int { state.withLock { $0.rewinds } }
    var closes: Int { state.withLock { $0.closes } }

    func open(sampleRate: Int) throws(DeviceError) { state.withLock { $0.opens += 1 } }
    func write(_ samples: [Int16]) throws(DeviceError) {
        if let gate, !state.withLock({ $0.samples.isEmpty }) { gate.wait() }
        if writeDelay > .zero { Thread.sleep(forTimeInterval: writeDelay / .seconds(1)) }
        state.withLock {
            $0.writes += 1
            if runsOutBeforeWrites.contains($0.writes) { $0.underruns += 1 }
            $0.samples += samples
        }
    }
    func drain() { state.withLock { $0.drains += 1 } }
    func discard() { state.withLock { $0.discards += 1 } }
    func rewind(maxFrames: Int) -> Int {
        let frames = min(pendingFrames, maxFrames)
        state.withLock {
            $0.rewinds += 1
            $0.samples.removeLast(min($0.samples.count, frames))
        }
        return frames
    }
    func close() { state.withLock { $0.closes += 1 } }
}

/// A relay for the conversation: down (every turn kept for later) or up (answers, with a reply
/// that streams in `chunks` pieces `gap` apart). Counts what it was sent and what it answered.
final class FakeTurnRelay: TurnSending {
    struct State {
        var up: Bool
        var sent: [String] = []
        var answered: [String: Int] = [:]
        var escalation: String?
        /// How long the relay takes to answer.
        var latency = Duration.zero
    }
    let state: Mutex<State>
    let reply: [Int16]
    let chunks: Int
    let gap: Duration

    init(up: Bool, reply: [Int16] = (0..<16_000).map { Int16($0 % 200) }, chunks: Int = 4, gap: Duration = .milliseconds(20)) {
        state = Mutex(State(up: up))
        self.reply = reply
        self.chunks = chunks
        self.gap = gap
    }

    func setUp(_ up: Bool) { state.withLock { $0.up = up } }
    var sent: [String] { state.withLock { $0.sent } }
    var answered: [String: Int] { state.withLock { $0.answered } }

    func send(_ request: VoiceTurnRequest, sessionID: String, audio: [UInt8]) async -> TurnOutcome {
        let latency = state.withLock { $0.latency }
        if latency > .zero { try? await Task.sleep(for: latency) }
        let (up, escalation) = state.withLock { state -> (Bool, String?) in
            state.sent.append(request.id)
            if state.up { state.answered[request.id, default: 0] += 1 }
            return (state.up, state.escalation)
        }
        guard up else { return .retryLater("relay unreachable") }
        return .answered(VoiceTurnAnswer(
            id: request.id, sessionID: sessionID, language: "en", transcript: "what is my heart rate",
            reply: .init(text: "About 72 beats a minute.", audioURL: "/reply/\(request.id)", screened: false),
            escalation: .init(raised: escalation != nil, reason: escalation),
            providers: .init(speechToText: "fake", responder: "fake", textToSpeech: "fake", fallbacks: []),
            timingsMs: .init(audio: 0, speechToText: 1, responder: 1, firstAudio: 1, total: 3)))
    }

    func reply(_ audioURL: String) -> AsyncThrowingStream<[Int16], any Error> {
        let (reply, chunks, gap) = (reply, chunks, gap)
        return AsyncThrowingStream { continuation in
            let task = Task {
                let size = (reply.count + chunks - 1) / chunks
                for start in stride(from: 0, to: reply.count, by: size) {
                    do { try await Task.sleep(for: gap) } catch { break }
                    continuation.yield(Array(reply[start..<min(reply.count, start + size)]))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

@Suite struct ConversationServiceTests {
    struct Harness {
        let service: ConversationService
        let inbox: AsyncStream<ConversationInput>.Continuation
        let store: EdgeStore
        let board: StatusBoard
        let shelf: UtteranceShelf
        let speaker: RecordingSpeaker

        /// Puts an utterance of `seconds` on the shelf and tells the conversation it ended.
        func speak(_ turnID: String, session: String = "s1", seconds: Double = 1, level: Float = 0.3) {
            shelf.put(turnID, samples: (0..<Int(seconds * 16_000)).map { sin(Float($0) * 0.05) * level })
            inbox.yield(.utterance(turnID: turnID, sessionID: session, startedAt: Date()))
        }

        var conversation: KioskStatus.Conversation { board.snapshot.conversation }
    }

    static let apology: [Int16] = (0..<4_000).map { Int16(1000 + $0 % 7) }

    static func harness(
        relay: FakeTurnRelay, speaker: RecordingSpeaker = RecordingSpeaker(), drainTime: Duration? = nil, retryDelay: Double = 0.05,
        redelivery: Doorbell = Doorbell(), directory: String = NSTemporaryDirectory() + "conversation-\(UUID().uuidString.prefix(8))"
    ) throws -> Harness {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try EdgeStore(path: directory + "/kiosk.sqlite")
        let board = StatusBoard(.starting(configuration: KioskConfiguration(), paths: DaemonPaths(configuration: KioskConfiguration()), enrollment: nil, storeQuota: 1 << 30))
        let (inputs, inbox) = AsyncStream<ConversationInput>.makeStream()
        var playerSettings = ReplyPlayer.Settings()
        playerSettings.prebuffer = .milliseconds(40)
        let player = ReplyPlayer(sink: speaker, settings: playerSettings) { inbox.yield(.playback($0)) }
        var settings = ConversationService.Settings()
        settings.retry.initialDelay = retryDelay
        settings.retry.maximumDelay = max(0.2, retryDelay)
        settings.turnDeadline = .seconds(60)  // no test here is about the deadline; CI machines stall
        settings.drainTime = drainTime
        var logger = Logger(label: "conversation-test")
        logger.logLevel = .critical
        let shelf = UtteranceShelf()
        let service = ConversationService(
            inputs: inputs, inbox: inbox, store: store, client: relay, player: player, apology: apology, shelf: shelf,
            board: board, logger: logger, settings: settings, redeliveryDoorbell: redelivery)
        return Harness(service: service, inbox: inbox, store: store, board: board, shelf: shelf, speaker: speaker)
    }

    /// `hhctl flush` makes kept turns due and rings their delivery: a turn waiting out a long
    /// backoff goes at once.
    @Test func aFlushSendsAKeptTurnWithoutWaitingOutItsBackoff() async throws {
        let relay = FakeTurnRelay(up: false)
        let doorbell = Doorbell()
        let kiosk = try Self.harness(relay: relay, retryDelay: 600, redelivery: doorbell)
        let running = Task { await kiosk.service.run() }
        defer { running.cancel() }
        kiosk.inbox.yield(.sessionOpened("s1"))
        kiosk.speak("t1")
        try await OutboxServiceTests.eventually { try kiosk.store.voiceTurns(sessions: ["s1"]).first?.state == .waiting && kiosk.conversation.apologies == 1 }
        relay.setUp(true)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try kiosk.store.voiceTurns(sessions: ["s1"]).first?.state == .waiting, "waiting out its backoff")

        try kiosk.store.makeAllVoiceTurnsDue()  // what the control server does for `hhctl flush`
        doorbell.ring()
        try await OutboxServiceTests.eventually { try kiosk.store.voiceTurns(sessions: ["s1"]).first?.state == .answered }
        #expect(relay.answered == ["t1": 1])
    }

    /// Utterances spoken while a turn is with the relay are stored as they end, so a crash
    /// loses none of them; sent merged, their rows become the one turn that was sent.
    @Test func utterancesWaitingBehindATurnAreStoredAtOnceAndSentMergedAsOne() async throws {
        let relay = FakeTurnRelay(up: true, chunks: 1, gap: .milliseconds(1))
        relay.state.withLock { $0.latency = .milliseconds(800) }
        let kiosk = try Self.harness(relay: relay)
        let running = Task { await kiosk.service.run() }
        defer { running.cancel() }
        kiosk.inbox.yield(.sessionOpened("s1"))
        kiosk.speak("t1")
        kiosk.speak("t2", seconds: 0.5)
        kiosk.speak("t3", seconds: 0.5)
        try await OutboxServiceTests.eventually { try kiosk.store.voiceTurns(sessions: ["s1"]).count == 3 && relay.sent.isEmpty }
        #expect(try kiosk.store.voiceTurns(sessions: ["s1"]).map(\.state) == [.waiting, .waiting, .waiting], "all three kept while t1 is with the relay")

        try await OutboxServiceTests.eventually { kiosk.conversation.turns == 2 }
        let stored = try kiosk.store.voiceTurns(sessions: ["s1"])
        #expect(stored.map(\.id) == ["t1", "t2"] && stored.allSatisfy { $0.state == .answered }, "t3 went with t2: \(stored.map(\.id))")
        try await Task.sleep(for: .milliseconds(300))
        #expect(relay.sent == ["t1", "t2"], "the waiting utterances were not sent on their own as well")
    }

    /// An utterance under the contract's silence level (the voice detector's false alarm on
    /// quiet noise) is not sent, as the relay would refuse it; the next one is.
    @Test func anUtteranceTooQuietToHearIsNotSent() async throws {
        let relay = FakeTurnRelay(up: true, chunks: 1, gap: .milliseconds(1))
        let kiosk = try Self.harness(relay: relay)
        let running = Task { await kiosk.service.run() }
        defer { running.cancel() }
        kiosk.inbox.yield(.sessionOpened("s1"))
        kiosk.speak("quiet", level: 0.002)  // -57 dBFS peak
        kiosk.speak("t2")
        try await OutboxServiceTests.eventually { kiosk.conversation.turns == 1 }
        #expect(relay.sent == ["t2"])
        #expect(try kiosk.store.voiceTurns(sessions: ["s1"]).map(\.id) == ["t2"])
    }

    /// The daemon dies with a turn in flight and another utterance waiting behind it: the next
    /// daemon on the same store delivers both (not played: their conversation is over).
    @Test func aCrashWithAnUtteranceWaitingLosesNeither() async throws {
        let directory = NSTemporaryDirectory() + "conversation-\(UUID().uuidString.prefix(8))"
        let slow = FakeTurnRelay(up: true)
        slow.state.withLock { $0.latency = .seconds(30) }
        let first = try Self.harness(relay: slow, directory: directory)
        let running = Task { await first.service.run() }
        first.inbox.yield(.sessionOpened("s1"))
        first.speak("t1")
        first.speak("t2")
        try await OutboxServiceTests.eventually { try first.store.voiceTurns(sessions: ["s1"]).count == 2 }
        running.cancel()  // as good as kill -9 for the store: nothing more is written
        await running.value

        let relay = FakeTurnRelay(up: true)
        let second = try Self.harness(relay: relay, directory: directory)
        let restarted = Task { await second.service.run() }
        defer { restarted.cancel() }
        try await OutboxServiceTests.eventually { try second.store.voiceTurns(sessions: ["s1"]).allSatisfy { $0.state == .answered } }
        #expect(relay.answered == ["t1": 1, "t2": 1])
        #expect(second.speaker.samples.isEmpty, "nothing of a conversation that is over is played")
    }

    @Test func aTurnTheRelayDoesNotAnswerGetsTheApologyAndIsDeliveredOnceWhenItIsBack() async throws {
        let relay = FakeTurnRelay(up: false)
        let kiosk = try Self.harness(relay: relay)
        let running = Task { await kiosk.service.run() }
        defer { running.cancel() }
        kiosk.inbox.yield(.sessionOpened("s1"))
        kiosk.speak("t1")

        try await OutboxServiceTests.eventually { kiosk.speaker.samples.count >= Self.apology.count && kiosk.conversation.apologies == 1 }
        #expect(kiosk.speaker.samples == Self.apology, "the kiosk's own apology, and nothing else")
        #expect(try kiosk.store.voiceTurns(sessions: ["s1"]).map(\.state) == [.waiting])
        try await OutboxServiceTests.eventually { relay.sent.count >= 3 }  // retried with backoff while down

        relay.setUp(true)
        try await OutboxServiceTests.eventually { try kiosk.store.voiceTurns(sessions: ["s1"]).first?.state == .answered }
        let stored = try #require(try kiosk.store.voiceTurns(sessions: ["s1"]).first)
        #expect(stored.transcript == "what is my heart rate" && stored.replyText == "About 72 beats a minute.")
        try await Task.sleep(for: .milliseconds(500))
        #expect(relay.answered == ["t1": 1], "answered exactly once: nothing sent after the answer")
        #expect(kiosk.speaker.samples == Self.apology, "the late answer is not played")
        #expect(kiosk.conversation.state == "listening")
        try await OutboxServiceTests.eventually { kiosk.conversation.waitingTurns == 0 }
    }

    @Test func anAnswerIsPlayedAsItStreamsAndAPatientTalkingOverItStopsIt() async throws {
        let reply = (0..<48_000).map { Int16($0 % 1000) }
        let relay = FakeTurnRelay(up: true, reply: reply, chunks: 30, gap: .milliseconds(100))
        let kiosk = try Self.harness(relay: relay, speaker: RecordingSpeaker(writeDelay: .milliseconds(20)))
        let running = Task { await kiosk.service.run() }
        defer { running.cancel() }
        kiosk.inbox.yield(.sessionOpened("s1"))
        kiosk.speak("t1")

        try await OutboxServiceTests.eventually { kiosk.speaker.samples.count >= 3_200 }
        #expect(kiosk.conversation.state == "speaking")
        #expect(kiosk.conversation.turns == 1 && kiosk.conversation.lastTurnLatencyMs != nil)
        #expect(Array(kiosk.speaker.samples.prefix(3_200)) == Array(reply.prefix(3_200)), "the reply, in order, at volume 1")

        kiosk.inbox.yield(.speechStarted)
        try await OutboxServiceTests.eventually { kiosk.speaker.discards == 1 }
        let played = kiosk.speaker.samples.count
        try await OutboxServiceTests.eventually { kiosk.conversation.state == "listening" }
        #expect(kiosk.conversation.bargeIns == 1)
        try await Task.sleep(for: .milliseconds(300))
        #expect(kiosk.speaker.samples.count == played && played < reply.count, "nothing more of the stopped reply")

        // What they said over it is the next turn, answered and played.
        kiosk.speak("t2")
        try await OutboxServiceTests.eventually { kiosk.conversation.turns == 2 && kiosk.speaker.samples.count > played }
        #expect(relay.sent == ["t1", "t2"])
    }

    @Test func aSpeakerThatRunsOutIsCountedInTheStatusAndTheReplyPlaysWhole() async throws {
        let relay = FakeTurnRelay(up: true, chunks: 2, gap: .milliseconds(10))
        let kiosk = try Self.harness(relay: relay, speaker: RecordingSpeaker(runsOutBeforeWrites: [3, 7]))
        let running = Task { await kiosk.service.run() }
        defer { running.cancel() }
        kiosk.inbox.yield(.sessionOpened("s1"))
        #expect(kiosk.conversation.speakerUnderruns == 0)
        kiosk.speak("t1")

        try await OutboxServiceTests.eventually { kiosk.conversation.turns == 1 && kiosk.conversation.state == "listening" }
        #expect(kiosk.speaker.samples == relay.reply, "a gap is heard, nothing is lost")
        try await OutboxServiceTests.eventually { kiosk.conversation.speakerUnderruns == 2 }
        let shown = StatusText.render(kiosk.board.snapshot, now: Date())
        #expect(shown.contains("the speaker ran out 2 times"), "\(shown)")
    }

    @Test func anEscalationIsShownAndTheTurnsOfAClosedSessionAreKeptNotPlayed() async throws {
        let relay = FakeTurnRelay(up: true, chunks: 2, gap: .milliseconds(10))
        relay.state.withLock { $0.escalation = "chest_pain" }
        let kiosk = try Self.harness(relay: relay)
        let running = Task { await kiosk.service.run() }
        defer { running.cancel() }
        kiosk.inbox.yield(.sessionOpened("s1"))
        kiosk.speak("t1")
        try await OutboxServiceTests.eventually { kiosk.conversation.escalation == "chest_pain" && kiosk.speaker.drains == 1 }
        #expect(kiosk.speaker.samples == relay.reply, "an escalation's reply is played")

        // An utterance of a session that has closed is not sent as a turn of the conversation;
        // it is kept and delivered, and its answer is not played.
        kiosk.inbox.yield(.sessionClosed("s1"))
        kiosk.speak("t2", session: "s1")
        try await OutboxServiceTests.eventually { try kiosk.store.voiceTurns(sessions: ["s1"]).last?.state == .answered && relay.sent.count == 2 }
        #expect(kiosk.speaker.samples == relay.reply)
        #expect(kiosk.conversation.state == "idle")
    }
}

@Suite struct ReplyPlayerTests {
    @Test func aSlowReplyUnderrunsAndStillPlaysWholeAndInOrder() async throws {
        let speaker = RecordingSpeaker()
        let events = Mutex<[PlaybackEvent]>([])
        var settings = ReplyPlayer.Settings()
        settings.prebuffer = .milliseconds(20)
        let player = ReplyPlayer(sink: speaker, settings: settings) { event in events.withLock { $0.append(event) } }
        let playback = player.start(turnID: "t1")
        let reply = (0..<9_600).map { Int16($0 % 3000) }
        for start in stride(from: 0, to: reply.count, by: 3_200) {
            playback.append(Array(reply[start..<start + 3_200]))
            try await Task.sleep(for: .milliseconds(150))
        }
        playback.finish()
        try await OutboxServiceTests.eventually { events.withLock { $0.count } == 2 }
        #expect(speaker.samples == reply)
        guard case .finished("t1", .completed, let underruns) = events.withLock({ $0.last }) else {
            Issue.record("not finished: \(events.withLock { $0 })")
            return
        }
        #expect(underruns == 2, "the buffer ran dry between each of the three pieces")
        #expect(speaker.drains == 1 && speaker.discards == 0)
    }

    @Test func theVolumeScalesAndAStoppedReplyIsDropped() async throws {
        let gate = DispatchSemaphore(value: 0)
        let speaker = RecordingSpeaker(gate: gate)
        let events = Mutex<[PlaybackEvent]>([])
        var settings = ReplyPlayer.Settings()
        settings.volume = 0.5
        let player = ReplyPlayer(sink: speaker, settings: settings) { event in events.withLock { $0.append(event) } }
        let playback = player.start(turnID: "t1")
        playback.append([Int16](repeating: 1000, count: 32_000))
        try await OutboxServiceTests.eventually { !speaker.samples.isEmpty }
        playback.stop()
        gate.signal()  // the write under way completes; nothing after it is written
        try await OutboxServiceTests.eventually { events.withLock { $0.contains { if case .finished(_, .stopped, _) = $0 { true } else { false } } } }
        #expect(speaker.samples.allSatisfy { $0 == 500 })
        #expect(speaker.samples.count == 640 && speaker.discards == 1)

        // A speaker that cannot be opened is reported, not fatal.
        final class Missing: AudioSink, @unchecked Sendable {
            let name = "hw:9"
            let underruns = 0
            let pendingFrames = 0
            func rewind(maxFrames: Int) -> Int { 0 }
            func open(sampleRate: Int) throws(DeviceError) { throw .missing("hw:9: no such device") }
            func write(_ samples: [Int16]) throws(DeviceError) {}
            func drain() {}
            func discard() {}
            func close() {}
        }
        let failed = Mutex<PlaybackEvent?>(nil)
        _ = ReplyPlayer(sink: Missing(), settings: .init()) { event in failed.withLock { $0 = event } }.play([1, 2, 3], turnID: "t2")
        try await OutboxServiceTests.eventually { failed.withLock { $0 } != nil }
        guard case .finished("t2", .failed(let reason), _) = failed.withLock({ $0 }) else { Issue.record("not failed"); return }
        #expect(reason.contains("no such device"))
    }

    /// With the echo canceller the speaker runs on between replies (silence), and a stopped
    /// reply is taken back from the device rather than the device restarted; the echo reference
    /// hears the same.
    /// The silence between two replies is taken back as the second starts, but never more than
    /// that silence: the device may still hold the end of the first reply.
    @Test func aReplyRightAfterAnotherKeepsTheEndOfTheFirst() async throws {
        let speaker = RecordingSpeaker(writeDelay: .milliseconds(5), pendingFrames: 3_200)
        let events = Mutex<[PlaybackEvent]>([])
        var settings = ReplyPlayer.Settings()
        settings.continuous = true
        settings.prebuffer = .zero
        let player = ReplyPlayer(sink: speaker, settings: settings, echo: EchoReference()) { event in events.withLock { $0.append(event) } }
        let first = [Int16](repeating: 700, count: 3_200), second = [Int16](repeating: 900, count: 3_200)
        _ = player.play(first, turnID: "t1")
        try await OutboxServiceTests.eventually { events.withLock { $0.contains { if case .finished("t1", _, _) = $0 { true } else { false } } } }
        _ = player.play(second, turnID: "t2")
        try await OutboxServiceTests.eventually { speaker.samples.filter { $0 == 900 }.count == second.count }
        let played = speaker.samples
        #expect(played.filter { $0 == 700 }.count == first.count, "the first reply whole: only silence was taken back")
        #expect(Array(played.prefix(first.count)) == first)
        player.close()
    }

    @Test func aContinuousSpeakerPlaysSilenceBetweenRepliesAndTakesBackAStoppedOne() async throws {
        let speaker = RecordingSpeaker(writeDelay: .milliseconds(5), pendingFrames: 640)
        let events = Mutex<[PlaybackEvent]>([])
        var settings = ReplyPlayer.Settings()
        settings.continuous = true
        settings.prebuffer = .zero
        let echo = EchoReference()
        let player = ReplyPlayer(sink: speaker, settings: settings, echo: echo) { event in events.withLock { $0.append(event) } }
        let reply = [Int16](repeating: 700, count: 3_200)
        _ = player.play(reply, turnID: "t1")
        try await OutboxServiceTests.eventually { events.withLock { $0.count } == 2 }
        try await OutboxServiceTests.eventually { speaker.samples.count >= reply.count + 3_200 }
        #expect(Array(speaker.samples.prefix(reply.count)) == reply)
        #expect(speaker.samples.dropFirst(reply.count).allSatisfy { $0 == 0 }, "silence after the reply")

        let second = player.start(turnID: "t2")
        second.append([Int16](repeating: 900, count: 32_000))
        try await OutboxServiceTests.eventually { speaker.samples.contains(900) }
        second.stop()
        try await OutboxServiceTests.eventually { events.withLock { $0.contains { if case .finished("t2", .stopped, _) = $0 { true } else { false } } } }
        #expect(speaker.rewinds == 2 && speaker.discards == 0 && speaker.drains == 0, "the silence ahead taken back as t2 started, and t2's tail when it stopped")
        #expect(speaker.opens == 1 && speaker.closes == 0, "one stream for both replies")
        player.close()
        try await OutboxServiceTests.eventually { speaker.closes == 1 }
    }
}

/// The speaker's side of the echo reference: blocks run on from where the last one ended
/// despite jittered times, and a rewind takes back exactly what was not heard.
@Suite struct EchoReferenceTests {
    @Test func blocksRunOnThroughJitterAndARewindTakesBackTheirTail() {
        let origin = ContinuousClock.now
        func at(_ sample: Int) -> ContinuousClock.Instant { origin + .microseconds(sample * 1_000_000 / 16_000) }
        let reference = EchoReference(origin: origin)
        let jitters = [0, 40, -30, 100, -150, 20]
        for (block, jitter) in jitters.enumerated() {
            reference.played([Int16](repeating: Int16(block + 1), count: 320), heardFrom: at(1_000 + block * 320 + jitter))
        }
        // The microphone, 10 ms behind (the reference leads it by `lead`), sees every block whole.
        let heard = reference.reference(count: 6 * 320, capturedFrom: at(1_000 - EchoReference.lead))
        #expect(heard == jitters.indices.flatMap { [Int16](repeating: Int16($0 + 1), count: 320) })

        // After a restart (a new stream) a block is put where its time says.
        reference.restarted(at: at(9_000))
        reference.played([Int16](repeating: 9, count: 320), heardFrom: at(10_000))
        reference.rewound(160)
        // (The microphone skips ahead to it, as after lost audio.)
        let later = reference.reference(count: 640, capturedFrom: at(10_000 - EchoReference.lead), followsLoss: true)
        #expect(later == [Int16](repeating: 9, count: 160) + [Int16](repeating: 0, count: 480))
        #expect(reference.takeJumps() == .init(losses: 1), "the speaker ran on through its jitter; the microphone restarted after its (reported) loss")
    }

    /// A stamp far off once (a thread scheduled late) moves nothing; the same offset for
    /// `persistence` blocks in a row (audio dropped) moves the side by it; a loss the microphone
    /// reports moves it at once.
    @Test func onlyAPersistentOffsetOrAReportedLossMovesASide() {
        let origin = ContinuousClock.now
        func at(_ sample: Int) -> ContinuousClock.Instant { origin + .microseconds(sample * 1_000_000 / 16_000) }
        let reference = EchoReference(origin: origin)
        let ramp = (0..<16_000).map { Int16($0 % 30_000) }
        reference.played(ramp, heardFrom: at(0))
        /// The first reference sample given with a microphone block stamped `stamp` (the ramp's value
        /// is its place on the timeline).
        func heard(stampedAt stamp: Int, followsLoss: Bool = false) -> Int {
            Int(reference.reference(count: 160, capturedFrom: at(stamp - EchoReference.lead), followsLoss: followsLoss)[0])
        }
        #expect(heard(stampedAt: 0) == 0)
        #expect(heard(stampedAt: 160 + 3_200) == 160, "one stamp 200 ms late: runs on")
        #expect(heard(stampedAt: 320 - 90) == 320, "within the tolerance")
        var sides = reference.takeJumps()
        #expect(sides == .init())
        // 100 ms of audio dropped: every stamp from here is 1,600 samples ahead of the count.
        let persistence = EchoReference.persistence
        var values: [Int] = []
        for block in 0...persistence {
            let counted = 480 + block * 160
            let offset = block.isMultiple(of: 2) ? 1_640 : 1_560
            values.append(heard(stampedAt: counted + offset))
        }
        let runOn = (0..<persistence - 1).map { 480 + $0 * 160 }
        #expect(Array(values.prefix(persistence - 1)) == runOn, "runs on until the offset has persisted")
        #expect(values[persistence - 1] == 480 + (persistence - 1) * 160 + 1_640, "moves at the block that makes it persist")
        #expect(values.last == 480 + persistence * 160 + 1_640, "then moves by the offsets' median")
        sides = reference.takeJumps()
        #expect(sides.microphone == 1 && sides.speaker == 0 && abs(sides.largest - 1_600) <= 40)
        // A reported loss: the stamp is taken at once, then the side settles by the median of
        // the next blocks' offsets, however small.
        #expect(heard(stampedAt: 9_000, followsLoss: true) == 9_000)
        var settled: [Int] = []
        for block in 1...persistence + 1 {
            settled.append(heard(stampedAt: 9_000 + block * 160 - 48 + (block == 3 ? 2_000 : 0)))
        }
        let settling = (1..<persistence).map { 9_000 + $0 * 160 }
        #expect(Array(settled.prefix(persistence - 1)) == settling)
        #expect(settled[persistence - 1] == 9_000 + persistence * 160 - 48, "settles at the last block of the settling")
        #expect(settled.last == 9_000 + (persistence + 1) * 160 - 48, "settled by the median, 3 ms, one late stamp ignored")
        #expect(reference.takeJumps() == .init(losses: 1, largest: 48), "a loss and its settling are not jumps")
    }

    /// What the microphone was given stays readable for ``EchoReference/history`` behind it (the
    /// window the lead is found over after a loss), moved with the microphone's shift.
    @Test func theWindowLooksBackOverWhatTheMicrophoneWasGiven() {
        let origin = ContinuousClock.now
        func at(_ sample: Int) -> ContinuousClock.Instant { origin + .microseconds(sample * 1_000_000 / 16_000) }
        let reference = EchoReference(origin: origin)
        let ramp = (0..<16_000).map { Int16($0) }
        reference.played(ramp, heardFrom: at(0))
        for block in 0..<50 { _ = reference.reference(count: 160, capturedFrom: at(block * 160 - EchoReference.lead)) }
        // The microphone has been given 0..<8_000 and is given 8_000 next.
        #expect(reference.microphoneWindow(before: 3, after: 2) == [7_997, 7_998, 7_999, 8_000, 8_001])
        #expect(reference.microphoneWindow(before: 5_000, after: 0).first == 3_000)
        reference.shiftMicrophone(by: -100)
        #expect(reference.microphoneWindow(before: 1, after: 1) == [7_899, 7_900])
        for block in 50..<100 { _ = reference.reference(count: 160, capturedFrom: at(block * 160 - EchoReference.lead)) }
        // Given 15_900 next; its last frame was read from 15_740, and what lies more than the
        // history before that is dropped.
        let window = reference.microphoneWindow(before: EchoReference.history + 500, after: 0)
        #expect(window[339] == 0 && window[340] == 6_140, "dropped beyond the history (15_740 - history = 6_140)")
        #expect(window[EchoReference.history + 500 - 1] == 15_899)
    }
}
