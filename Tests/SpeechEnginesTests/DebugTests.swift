import Foundation
import MediaFiles
import SpeechEngines
import Testing
import VoiceCore
import Conversation

@Suite struct DebugRecognition {
    @Test func files() async throws {
        let recognizer = try PocketSphinxRecognizer(grammar: OfflineQuestions.jsgf, decoders: 1)
        for path in (ProcessInfo.processInfo.environment["DEBUG_WAVS"] ?? "").split(separator: ",") {
            let reader = try WAVReader(path: String(path))
            var converter = try AudioConverter(sampleRate: reader.format.sampleRate, channelCount: 1, outputRate: 16_000)
            let raw = try reader.read(maximumFrames: 1_000_000)
            let converted = converter.process(interleaved: raw) + converter.finish()
            let samples = converted.map { Int16(max(-32768, min(32767, ($0 * 32768).rounded()))) }
            print(path, reader.format.sampleRate, try await recognizer.transcribe(samples).text)
        }
    }
}
