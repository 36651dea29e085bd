import Foundation
import MediaFiles
import VoiceCore

/// The kiosk's own spoken apology for a turn the relay did not answer: pre-rendered audio
/// shipped with the daemon (`/usr/share/health-helper/apology.wav`, made by
/// `scripts/render-apology.sh`), so no network is needed to say it.
enum ApologyAudio {
    /// The apology at `path` as 16 kHz mono samples, whatever the file's rate and channels;
    /// when it cannot be read, a soft two-note chime (so the patient still hears that the kiosk
    /// did not get it) and the reason.
    static func load(path: String) -> (samples: [Int16], problem: String?) {
        do {
            let reader = try WAVReader(path: path)
            if reader.format == WAVFormat(sampleRate: ConversationMachine.sampleRate, channelCount: 1, sampleFormat: .signed16) {
                // As shipped: played sample for sample.
                var samples: [Int16] = []
                while try reader.read(maximumFrames: 16_384, appendingTo: &samples) > 0 {
                    guard samples.count <= 30 * ConversationMachine.sampleRate else { throw MediaFileError(.unsupported, "longer than 30 s") }
                }
                guard !samples.isEmpty else { throw MediaFileError(.unsupported, "no audio") }
                return (samples, nil)
            }
            var converter = try AudioConverter(sampleRate: reader.format.sampleRate, channelCount: reader.format.channelCount)
            var samples: [Float] = []
            while case let block = try reader.read(maximumFrames: 16_384), !block.isEmpty {
                samples += converter.process(interleaved: block)
                guard samples.count <= 30 * ConversationMachine.sampleRate else { throw MediaFileError(.unsupported, "longer than 30 s") }
            }
            samples += converter.finish()
            guard !samples.isEmpty else { throw MediaFileError(.unsupported, "no audio") }
            return (samples.map { Int16(clamping: Int(($0 * 32_767).rounded())) }, nil)
        } catch {
            return (chime, "apology audio \(path): \(error)")
        }
    }

    /// Two soft notes falling (660 Hz, 440 Hz), 0.25 s each, faded in and out.
    static var chime: [Int16] {
        let rate = Double(ConversationMachine.sampleRate)
        let note = Int(rate * 0.25)
        return [660.0, 440.0].flatMap { frequency in
            (0..<note).map { index in
                let fade = min(1, Double(index) / 400, Double(note - index) / 400)
                return Int16(6000 * fade * sin(2 * .pi * frequency * Double(index) / rate))
            }
        }
    }
}
