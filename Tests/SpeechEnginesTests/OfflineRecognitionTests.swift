import Conversation
import Foundation
import HHProtocol
import MediaFiles
import SpeechEngines
import TestSupport
import Testing
import VoiceCore

/// How well the offline recogniser hears what matters: each question the offline responder
/// answers must reach its intent, and each emergency must escalate, spoken by voices and at
/// speeds it was tuned on, and (reported apart) by voices, speeds and noise it never was.
@Suite(.serialized) struct OfflineRecognitionTests {
    static let recognizer = try! PocketSphinxRecognizer(grammar: OfflineQuestions.jsgf, decoders: 2)
    static let knowledge = try! ClinicKnowledge.load(from: Data(contentsOf: URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("configs/clinic-knowledge/default.json")))

    /// A way of speaking: eSpeak NG voice, words per minute, noise (SNR in dB, `nil`: none).
    struct Speaker: Sendable, CustomStringConvertible {
        var voice: String
        var wordsPerMinute: Int
        var noiseSNR: Double?
        var description: String { "\(voice)@\(wordsPerMinute)" + (noiseSNR.map { "+noise\(Int($0))dB" } ?? "") }
    }

    /// What the grammar and thresholds were chosen with.
    static let tuning = [Speaker(voice: "en-us", wordsPerMinute: 165, noiseSNR: nil), Speaker(voice: "en-gb-x-rp", wordsPerMinute: 150, noiseSNR: nil)]
    /// Never used to choose anything: other accents, other speeds, a female variant, noise.
    static let heldOut = [
        Speaker(voice: "en-gb-scotland", wordsPerMinute: 175, noiseSNR: 20), Speaker(voice: "en-029+f3", wordsPerMinute: 140, noiseSNR: nil),
        Speaker(voice: "en-us-nyc+m3", wordsPerMinute: 190, noiseSNR: 15),
    ]

    /// The intent a sentence asks for: a responder intent, or `emergency:<kind>`.
    static func intent(of text: String) -> String {
        if let emergency = EmergencyDetector().finding(in: text) { return "emergency:" + emergency.kind }
        return OfflineResponder(knowledge: knowledge).reply(to: text, vitals: TurnVitals()).intent
    }

    struct Score: CustomStringConvertible {
        var right = 0, total = 0
        var misses: [String] = []
        var rate: Double { total == 0 ? 0 : Double(right) / Double(total) }
        var description: String { "\(right)/\(total) (\(Int((rate * 100).rounded()))%)" }
    }

    static func score(_ sentences: [String], speakers: [Speaker], matches: (String, String) -> Bool) async throws -> Score {
        var score = Score()
        for speaker in speakers {
            for (index, sentence) in sentences.enumerated() {
                let audio = try speak(sentence, speaker, seed: UInt64(index))
                let heard = try await recognizer.transcribe(audio).text
                score.total += 1
                if matches(sentence, heard) { score.right += 1 } else { score.misses.append("\(speaker): \"\(sentence)\" → \"\(heard)\"") }
            }
        }
        return score
    }

    static let sameIntent: @Sendable (String, String) -> Bool = { intent(of: $0) == intent(of: $1) }
    static let escalates: @Sendable (String, String) -> Bool = { _, heard in EmergencyDetector().finding(in: heard) != nil }

    @Test func theQuestionsTheResponderAnswersReachTheirIntent() async throws {
        let tuned = try await Self.score(OfflineQuestions.questions, speakers: Self.tuning, matches: Self.sameIntent)
        let held = try await Self.score(OfflineQuestions.questions, speakers: Self.heldOut, matches: Self.sameIntent)
        print("offline recognition, questions to intent: tuning voices \(tuned), held-out voices \(held)")
        print(tuned.misses.prefix(20).joined(separator: "\n"))
        print(held.misses.prefix(20).joined(separator: "\n"))
        // Floors a little under what was measured (docs/CONVERSATION.md): a regression guard.
        #expect(tuned.rate >= 0.88, "\(tuned.misses)")
        #expect(held.rate >= 0.78, "\(held.misses)")
    }

    @Test func spokenEmergenciesEscalate() async throws {
        let tuned = try await Self.score(OfflineQuestions.emergencies, speakers: Self.tuning, matches: Self.escalates)
        let held = try await Self.score(OfflineQuestions.emergencies, speakers: Self.heldOut, matches: Self.escalates)
        print("offline recognition, emergencies escalated: tuning voices \(tuned), held-out voices \(held)")
        print(tuned.misses.joined(separator: "\n"))
        print(held.misses.joined(separator: "\n"))
        #expect(tuned.rate >= 0.82, "\(tuned.misses)")
        #expect(held.rate >= 0.82, "\(held.misses)")
    }

    @Test func ordinaryQuestionsOutsideTheGrammarMostlyDoNotEscalate() async throws {
        // English questions a kiosk hears that the grammar does not hold.
        let ordinary = ConversationCorpus.ordinaryQuestions.filter { question in
            question.unicodeScalars.allSatisfy(\.isASCII) && !OfflineQuestions.questions.contains(Self.plain(question))
        }
        let score = try await Self.score(ordinary, speakers: Self.tuning + Self.heldOut) { _, heard in EmergencyDetector().finding(in: heard) == nil }
        print("offline recognition, ordinary questions not escalated: \(score)")
        print(score.misses.joined(separator: "\n"))
        #expect(score.rate >= 0.78, "\(score.misses)")
    }

    static func plain(_ text: String) -> String {
        String(text.lowercased().filter { $0.isLetter || $0 == " " || $0 == "'" })
    }

    /// `text` spoken by `speaker`, at 16 kHz, with its noise (seeded).
    static func speak(_ text: String, _ speaker: Speaker, seed: UInt64) throws -> [Int16] {
        let path = NSTemporaryDirectory() + "recognition-\(UUID().uuidString.prefix(8)).wav"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try run("/usr/bin/espeak-ng", ["-v", speaker.voice, "-s", String(speaker.wordsPerMinute), "-w", path, text])
        guard result.status == 0 else { throw SetupError(description: "espeak-ng: \(result.stderr)") }
        let reader = try WAVReader(path: path)
        var converter = try AudioConverter(sampleRate: reader.format.sampleRate, channelCount: reader.format.channelCount, outputRate: 16_000)
        var samples: [Float] = []
        while case let block = try reader.read(maximumFrames: 8_192), !block.isEmpty { samples += converter.process(interleaved: block) }
        samples += converter.finish()
        if let snr = speaker.noiseSNR {
            let power = samples.reduce(0) { $0 + $1 * $1 } / Float(max(1, samples.count))
            let noise = (power / Float(pow(10, snr / 10))).squareRoot()
            var random = SplitMix64(seed: seed &+ 0x5EED)
            samples = samples.map { $0 + noise * Float(random.nextGaussian()) }
        }
        return samples.map { Int16(max(-32_768, min(32_767, ($0 * 32_768).rounded()))) }
    }

    struct SetupError: Error, CustomStringConvertible { var description: String }
}
