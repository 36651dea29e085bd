import EdgeStore
import Foundation
import HHProtocol
import Kiosk
import KioskControl
import MediaFiles
import Relay
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension DaemonTests {
    /// The kiosk talks: `hhd` on a visit from files paced in real time, its replies written to a
    /// WAV file standing in for the speaker, against a real `hh-relay` with its offline engines.
    @Suite struct ConversationIntegrationTests {
        /// A visit with a spoken question: 24 s of a patient in view, and a microphone track with
        /// "What is my heart rate?" at 20 s over quiet room noise: the files end while the kiosk
        /// thinks or speaks, and the answer must still play whole.
        static let visit: (video: String, audio: String) = {
            let directory = temporaryDirectory("spoken-visit")
            let video = directory + "/visit.y4m"
            let simulated = try! runProduct("hh-simulate", ["--out", video, "--width", "320", "--height", "240", "--fps", "15", "--duration", "24", "--hr", "74", "--seed", "5"])
            precondition(simulated.status == 0, simulated.stderr)
            var generator = SystemRandomNumberGenerator()
            var track = (0..<24 * 16_000).map { _ in Int16.random(in: -90...90, using: &generator) }
            let question = try! RealRelayTests.spoken("What is my heart rate?")
            for (index, sample) in question.enumerated() {
                let at = 20 * 16_000 + index
                track[at] = Int16(clamping: Int(track[at]) + Int(Double(sample) * 0.8))
            }
            let audio = directory + "/visit.wav"
            try! Data(WAVBytes.file(track, sampleRate: 16_000)).write(to: URL(fileURLWithPath: audio))
            return (video, audio)
        }()

        /// The samples of a 16-bit WAV file.
        static func samples(_ path: String) throws -> [Int16] {
            let reader = try WAVReader(path: path)
            var samples: [Int16] = []
            while try reader.read(maximumFrames: 65_536, appendingTo: &samples) > 0 {}
            return samples
        }

        /// The shipped apology at the test configuration's volume (0.8).
        static var apologyAsPlayed: [Int16] {
            get throws { try samples(repositoryRoot.path + "/share/apology.wav").map { Int16(clamping: Int((Double($0) * 0.8).rounded())) } }
        }

        /// The relay's successful requests on the turn route, from its log.
        static func answeredTurnRequests(in directory: String) -> Int {
            let log = (try? String(contentsOfFile: directory + "/relay.log", encoding: .utf8)) ?? ""
            return log.split(separator: "\n").filter { $0.contains(#""route":"/v1/sessions/{session_id}/turns""#) && $0.contains(#""status":"200""#) }.count
        }

        @Test func aSpokenQuestionIsAnsweredAloudEndToEnd() async throws {
            let directory = temporaryDirectory("conversation")
            let (relay, port, token) = try RealRelayTests.startRelay(in: directory)
            defer { relay.terminate(); relay.waitUntilExit() }
            let speaker = directory + "/speaker.wav"
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory, token: token, speaker: speaker), "--state-dir", directory + "/state",
                 "--video", Self.visit.video, "--audio", Self.visit.audio, "--relay", "http://127.0.0.1:\(port)", "--pace", "realtime"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            #expect(await daemon.wait(timeout: 120) == 0, "\(daemon.log)")

            // The relay heard the question and answered it once.
            let kiosk = try EdgeStore(path: directory + "/state/hhd.sqlite")
            let sessionID = try #require(try kiosk.recentSessions(limit: 10).first?.id)
            let turn = try #require(try kiosk.voiceTurns(sessions: [sessionID]).first, "\(daemon.log)")
            #expect(turn.state == .answered)
            #expect(turn.transcript?.contains("heart rate") == true, "heard: \(turn.transcript ?? "nothing")")
            let store = try SQLiteRelayStore(directory: directory + "/relay")
            let stored = try #require(try await store.turn(id: turn.id))
            await store.close()
            #expect(stored.sessionID == sessionID && stored.replyText == turn.replyText)
            #expect(Self.answeredTurnRequests(in: directory) == 1)

            // What the speaker played is the relay's spoken reply, whole, at the configured volume.
            let client = HTTPTurnClient(enrollment: Enrollment(relayURL: "http://127.0.0.1:\(port)", token: token), timeoutSeconds: 30, userAgent: "hhd-test")
            var reply: [Int16] = []
            for try await piece in client.reply("/v1/sessions/\(sessionID)/turns/\(turn.id)/reply.wav") { reply += piece }
            let played = try Self.samples(speaker)
            #expect(reply.count > 16_000, "a spoken reply of more than a second")
            #expect(played.count == reply.count, "played \(played.count) of \(reply.count) samples")
            let differences = zip(played, reply).map { (played, sent) -> Int in abs(Int(played) - Int((Double(sent) * 0.8).rounded())) }
            let worst = differences.max() ?? 0
            #expect(worst <= 1)
            #expect(daemon.log.contains("turn answered"))
        }

        @Test func withTheRelayDownTheKioskApologisesAndDeliversTheTurnOnceItIsBack() async throws {
            let directory = temporaryDirectory("conversation-down")
            let token = try RealRelayTests.enrolDevice(in: directory)
            let port = freePort()
            let speaker = directory + "/speaker.wav"
            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory, token: token, speaker: speaker), "--state-dir", directory + "/state",
                 "--video", Self.visit.video, "--audio", Self.visit.audio, "--relay", "http://127.0.0.1:\(port)", "--pace", "realtime"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            let apology = try Self.apologyAsPlayed
            try await waitFor(seconds: 60, daemon) { ((try? Self.samples(speaker)) ?? []).count >= apology.count }

            let relay = try RealRelayTests.serveRelay(in: directory, port: port)
            defer { relay.terminate(); relay.waitUntilExit() }
            #expect(await daemon.wait(timeout: 120) == 0, "\(daemon.log)")

            #expect(try Self.samples(speaker) == apology, "the apology, and not the late answer")
            let kiosk = try EdgeStore(path: directory + "/state/hhd.sqlite")
            let sessionID = try #require(try kiosk.recentSessions(limit: 10).first?.id)
            let turns = try kiosk.voiceTurns(sessions: [sessionID])
            #expect(turns.map(\.state) == [.answered], "\(daemon.log)")
            let store = try SQLiteRelayStore(directory: directory + "/relay")
            #expect(try await store.turns(sessionID: sessionID).map(\.id) == turns.map(\.id))
            #expect(try await store.sessionCount() == 1)
            await store.close()
            #expect(Self.answeredTurnRequests(in: directory) == 1, "delivered exactly once")
        }

        @Test func killedMidTurnTheTurnIsDeliveredAfterTheRestartAndNothingIsReplayed() async throws {
            let directory = temporaryDirectory("conversation-kill")
            let token = try RealRelayTests.enrolDevice(in: directory)
            // A relay address that takes the request and never answers: the turn stays in flight.
            let (listener, port) = try silentListener()
            let config = writeTestConfiguration(in: directory, token: token, speaker: directory + "/speaker-1.wav", extra: "")
            let first = try DaemonProcess(
                ["--config", config, "--state-dir", directory + "/state", "--video", Self.visit.video, "--audio", Self.visit.audio,
                 "--relay", "http://127.0.0.1:\(port)", "--pace", "realtime"],
                log: directory + "/hhd-1.log")
            defer { first.ensureStopped() }
            try await waitFor(seconds: 60, first) { first.log.contains("turn sent") }
            first.send(SIGKILL)
            _ = await first.wait(timeout: 10)
            close(listener)

            let relay = try RealRelayTests.serveRelay(in: directory, port: port)
            defer { relay.terminate(); relay.waitUntilExit() }
            let second = try DaemonProcess(
                ["--config", config, "--state-dir", directory + "/state", "--video", "", "--audio", "",
                 "--speaker", directory + "/speaker-2.wav", "--relay", "http://127.0.0.1:\(port)", "--pace", "realtime"],
                log: directory + "/hhd-2.log")
            defer { second.ensureStopped() }
            #expect(await second.wait(timeout: 120) == 0, "\(second.log)")

            let kiosk = try EdgeStore(path: directory + "/state/hhd.sqlite")
            let sessionID = try #require(try kiosk.recentSessions(limit: 10).first?.id)
            let turns = try kiosk.voiceTurns(sessions: [sessionID])
            #expect(turns.map(\.state) == [.answered], "\(second.log)")
            #expect(turns.first?.transcript?.contains("heart rate") == true)
            #expect(Self.answeredTurnRequests(in: directory) == 1, "delivered exactly once")
            #expect(((try? Self.samples(directory + "/speaker-2.wav")) ?? []).isEmpty, "no reply played after the restart")
            #expect(second.log.contains("waiting turn delivered"))
        }

        /// Waits until `condition` holds, failing if `daemon` exits first or time runs out.
        private func waitFor(seconds: Double, _ daemon: DaemonProcess, _ condition: () throws -> Bool) async throws {
            let deadline = Date().addingTimeInterval(seconds)
            while try !condition() {
                guard daemon.process.isRunning, Date() < deadline else {
                    Issue.record("gave up waiting: \(daemon.log)")
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        /// A TCP socket on 127.0.0.1 that listens and never accepts: connections complete in the
        /// kernel's backlog and requests are never answered.
        private func silentListener() throws -> (Int32, Int) {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
            }
            guard bound, listen(descriptor, 16) == 0 else { throw CancellationError() }
            return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
        }
    }
}
