import Foundation
import HHProtocol
import Kiosk
import KioskControl
import MediaFiles
import Relay
import TestSupport
import Testing
import VoiceCore

extension DaemonTests {
    /// The kiosk and the cloud together: hhd delivers to a real hh-relay.
    @Suite struct RealRelayTests {
        @Test func hhdDeliversEverySessionToHHRelay() async throws {
            let directory = temporaryDirectory("relay")
            let (relay, port, token) = try Self.startRelay(in: directory)
            defer { relay.terminate(); relay.waitUntilExit() }

            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory, token: token), "--state-dir", directory + "/state",
                 "--video", VisitVideo.path, "--audio", "", "--relay", "http://127.0.0.1:\(port)", "--pace", "fast"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            #expect(await daemon.wait(timeout: 60) == 0, "\(daemon.log)")
            let store = try SQLiteRelayStore(directory: directory + "/relay")
            #expect(try await store.sessionCount() == VisitVideo.presence.count, "\(daemon.log)")
            let kiosk = try EdgeStoreProbe.delivered(stateDirectory: directory + "/state")
            for id in kiosk {
                let stored = try #require(try await store.session(id: id))
                let document = try WireJSON.decoder().decode(SessionDocument.self, from: Data(stored.document.utf8))
                #expect(abs((document.summary.heartRateMedianBpm ?? 0) - VisitVideo.heartRate) <= 3)
            }
            await store.close()
        }

        @Test func aSpokenTurnIsAnsweredByHHRelayOfflineAndItsReplyStreamsBack() async throws {
            let directory = temporaryDirectory("turns")
            let (relay, port, token) = try Self.startRelay(in: directory)
            defer { relay.terminate(); relay.waitUntilExit() }
            let url = "http://127.0.0.1:\(port)"
            let client = HTTPTurnClient(enrollment: Enrollment(relayURL: url, token: token), timeoutSeconds: 60, userAgent: "hhd-test")
            let question = try Self.spoken("What is my heart rate?")
            let turn = ConversationMachine.Turn(id: RandomID.uuid(), sessionID: RandomID.uuid(), startedAt: Date(), samples: question)
            let vitals = VoiceTurnRequest.Vitals(heartRateBpm: 76, heartRateSnrDb: 9)

            var outcome = TurnOutcome.retryLater("not sent")
            for _ in 0..<100 {  // the relay loads its offline engines first
                guard relay.isRunning else {
                    Issue.record("the relay exited: \((try? String(contentsOfFile: directory + "/relay.log", encoding: .utf8)) ?? "")")
                    return
                }
                outcome = await client.send(turn, vitals: vitals)
                if case .retryLater = outcome { try await Task.sleep(for: .milliseconds(200)) } else { break }
            }
            guard case .answered(let answer) = outcome else {
                Issue.record("no answer: \(outcome)")
                return
            }
            #expect(answer.transcript.contains("heart rate"), "heard: \(answer.transcript)")
            #expect(answer.reply.text.contains("76"), "\(answer.reply.text)")
            var samples: [Int16] = []
            for try await piece in client.reply(answer.reply.audioURL) { samples += piece }
            #expect(samples.count > 8_000, "at least half a second of spoken reply: \(samples.count) samples")

            #expect(await client.send(turn, vitals: vitals) == .answered(answer), "a retry gets the stored answer")
            var changed = turn
            changed.samples = Array(question.reversed())
            guard case .refused(let reason) = await client.send(changed, vitals: vitals) else {
                Issue.record("the same id with other audio is refused")
                return
            }
            #expect(reason.contains("409"))
            let stranger = HTTPTurnClient(enrollment: Enrollment(relayURL: url, token: token + "x"), timeoutSeconds: 10, userAgent: "hhd-test")
            guard case .retryLater(let why) = await stranger.send(turn, vitals: vitals) else {
                Issue.record("a wrong token is the kiosk's enrolment: kept and retried")
                return
            }
            #expect(why.contains("401"))
            relay.terminate()
            relay.waitUntilExit()
            guard case .retryLater = await client.send(turn, vitals: vitals) else {
                Issue.record("a relay that is down: retried later")
                return
            }
        }

        /// An `hh-relay serve` on SQLite in `directory`/relay with one clinic and device: the
        /// process, its port and the device's token.
        /// The relay's request log (one JSON line a request) is `directory`/relay.log.
        static func startRelay(in directory: String, port: Int = freePort()) throws -> (Process, Int, String) {
            let token = try enrolDevice(in: directory)
            return (try serveRelay(in: directory, port: port), port, token)
        }

        /// A clinic and a device in the relay's store in `directory`/relay: the device's token.
        static func enrolDevice(in directory: String) throws -> String {
            let environment = ["HH_RELAY_DATA_DIR": directory + "/relay"]
            let clinic = try runProduct("hh-relay", ["admin", "add-clinic", "North"], environment: environment)
            let clinicID = try #require(clinic.stdout.split(separator: "\n").last.map(String.init))
            let device = try runProduct("hh-relay", ["admin", "add-device", "--clinic", clinicID, "--name", "Lobby"], environment: environment)
            return try #require(device.stdout.split(separator: "\n").last.map(String.init))
        }

        /// `hh-relay serve` on the store in `directory`/relay, logging to `directory`/relay.log.
        static func serveRelay(in directory: String, port: Int) throws -> Process {
            let relay = Process()
            relay.executableURL = productsDirectory.appendingPathComponent("hh-relay")
            relay.arguments = ["serve", "--port", String(port)]
            relay.environment = ProcessInfo.processInfo.environment.merging(["HH_RELAY_DATA_DIR": directory + "/relay"]) { $1 }
            let log = directory + "/relay.log"
            if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            handle.seekToEndOfFile()
            relay.standardOutput = handle
            try relay.run()
            return relay
        }

        /// `text` spoken by eSpeak NG, at 16 kHz mono.
        static func spoken(_ text: String) throws -> [Int16] {
            let path = NSTemporaryDirectory() + "hhd-turn-\(UUID().uuidString.prefix(8)).wav"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let espeak = Process()
            espeak.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
            espeak.arguments = ["-v", "en-us", "-s", "150", "-w", path, text]
            try espeak.run()
            espeak.waitUntilExit()
            let reader = try WAVReader(path: path)
            var converter = try AudioConverter(sampleRate: reader.format.sampleRate, channelCount: reader.format.channelCount, outputRate: 16_000)
            var samples: [Float] = []
            while case let block = try reader.read(maximumFrames: 8_192), !block.isEmpty { samples += converter.process(interleaved: block) }
            samples += converter.finish()
            return samples.map { Int16(max(-32_768, min(32_767, ($0 * 32_768).rounded()))) }
        }
    }
}
