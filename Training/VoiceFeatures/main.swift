// voice-features: writes the voice activity features of WAV files, for training the model.
//
//     voice-features OUTPUT_DIR FILE.wav...
//
// For each FILE.wav, writes OUTPUT_DIR/FILE.f32: one row of VoiceFeatures.count little-endian
// float32 values per 10 ms frame, computed exactly as the detector computes them (the audio
// converted to 16 kHz mono first, a partial last frame padded with silence).
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import MediaFiles
import VoiceCore

func complain(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count >= 2 else {
    complain("usage: voice-features OUTPUT_DIR FILE.wav...")
    exit(2)
}
let outputDirectory = arguments.first!

func features(of path: String) throws(MediaFileError) -> [Float] {
    let reader = try WAVReader(path: path)
    var converter = AudioConverter(sampleRate: reader.format.sampleRate, channelCount: reader.format.channelCount)
    var extractor = VoiceFeatures()
    var pending: [Float] = []
    var rows: [Float] = []
    var row = [Float](repeating: 0, count: VoiceFeatures.count)
    func consume(_ samples: [Float]) {
        pending.append(contentsOf: samples)
        var start = 0
        while pending.count - start >= VoiceFeatures.hopSize {
            pending[start..<(start + VoiceFeatures.hopSize)].withUnsafeBufferPointer { hop in
                row.withUnsafeMutableBufferPointer { extractor.process(hop: hop, into: $0) }
            }
            rows.append(contentsOf: row)
            start += VoiceFeatures.hopSize
        }
        pending.removeFirst(start)
    }
    var block: [Float] = []
    while try reader.read(maximumFrames: 4096, into: &block) > 0 {
        consume(converter.process(interleaved: block))
    }
    consume(converter.finish())
    if !pending.isEmpty {
        consume([Float](repeating: 0, count: VoiceFeatures.hopSize - pending.count))
    }
    return rows
}

var failed = false
for path in arguments.dropFirst() {
    do {
        let rows = try features(of: path)
        let name = String(path.split(separator: "/").last!.split(separator: ".").first!)
        let output = "\(outputDirectory)/\(name).f32"
        guard let file = fopen(output, "wb") else {
            complain("voice-features: cannot create \(output)")
            exit(1)
        }
        let written = rows.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        if written != rows.count * 4 {
            complain("voice-features: cannot write \(output)")
            exit(1)
        }
    } catch {
        complain("voice-features: \(path): \(error)")
        failed = true
    }
}
exit(failed ? 1 : 0)
