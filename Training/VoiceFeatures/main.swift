// voice-features: writes the voice activity features of WAV files, for training the model.
//
//     voice-features OUTPUT_DIR FILE.wav...
//
// For each FILE.wav, writes OUTPUT_DIR/FILE.f32: one row of VoiceFeatures.count little-endian
// float32 values per 10 ms frame, computed exactly as the detector computes them: the same
// conversion to 16 kHz mono (MonoAudioReader) and the same framing (HopFramer).
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Analysis
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
    var reader = try MonoAudioReader(path: path)
    var framer = HopFramer()
    var extractor = VoiceFeatures()
    var rows: [Float] = []
    var row = [Float](repeating: 0, count: VoiceFeatures.count)
    func consumeHop() {
        framer.hop.withUnsafeBufferPointer { hop in
            row.withUnsafeMutableBufferPointer { extractor.process(hop: hop, into: $0) }
        }
        rows.append(contentsOf: row)
    }
    while let samples = try reader.next() {
        var rest = samples[...]
        while framer.fill(from: &rest) { consumeHop() }
    }
    if framer.padPartialHop() { consumeHop() }
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
