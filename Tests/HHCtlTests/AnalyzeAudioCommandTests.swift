import Foundation
import MediaFiles
import Testing

@Suite struct AnalyzeAudioCommandTests {
    /// A sentence from espeak-ng (installed by `make test`) with 2 s of quiet noise before and
    /// after, as 16-bit stereo at espeak's 22 050 Hz.
    static let recording: (path: String, speechStart: Double, speechEnd: Double) = {
        let spoken = NSTemporaryDirectory() + "hhctl-espeak-\(UUID().uuidString).wav"
        let espeak = Process()
        espeak.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
        espeak.arguments = ["-v", "en", "-w", spoken, "Please sit down, the nurse will see you in a moment."]
        do { try espeak.run() } catch { fatalError("espeak-ng is needed (make test installs it): \(error)") }
        espeak.waitUntilExit()
        let reader = try! WAVReader(path: spoken)
        var speech: [Float] = []
        while case let block = try! reader.read(maximumFrames: 4096), !block.isEmpty { speech += block }
        try? FileManager.default.removeItem(atPath: spoken)
        let rate = reader.format.sampleRate
        let first = speech.firstIndex { abs($0) > 0.01 }!, last = speech.lastIndex { abs($0) > 0.01 }!

        let path = NSTemporaryDirectory() + "hhctl-\(UUID().uuidString).wav"
        let writer = try! WAVWriter(path: path, format: WAVFormat(sampleRate: rate, channelCount: 2, sampleFormat: .signed16))
        var state: UInt64 = 5
        let padded = [Float](repeating: 0, count: 2 * rate) + speech + [Float](repeating: 0, count: 2 * rate)
        var samples: [Float] = []
        for value in padded {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let noise = Float(Int64(bitPattern: state) >> 11) / Float(1 << 52) * 0.003
            samples += [value * 0.5 + noise, value * 0.4 + noise]
        }
        try! writer.write(interleaved: samples)
        try! writer.close()
        return (path, 2 + Double(first) / Double(rate), 2 + Double(last) / Double(rate))
    }()

    @Test func csvHasTheDocumentedShape() throws {
        let result = try runProduct("hhctl", ["analyze", "audio", Self.recording.path, "--format", "csv"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "start_s,end_s")
        #expect(lines.last == "")
        let rows = lines.dropFirst().dropLast().map { $0.split(separator: ",").map { Double($0)! } }
        #expect(!rows.isEmpty)
        // Every row is a segment in order; the voice is found where it is.
        for (a, b) in zip(rows, rows.dropFirst()) { #expect(a[1] <= b[0]) }
        for row in rows { #expect(row.count == 2 && row[0] < row[1]) }
        let (start, end) = (Self.recording.speechStart, Self.recording.speechEnd)
        #expect(abs(rows.first![0] - start) <= 0.15, "segments: \(rows), speech \(start)–\(end)")
        #expect(abs(rows.last![1] - end) <= 0.3, "segments: \(rows), speech \(start)–\(end)")
        let covered = rows.reduce(0) { $0 + $1[1] - $1[0] }
        #expect(covered >= 0.8 * (end - start), "segments: \(rows), speech \(start)–\(end)")
    }

    /// `--utterances`: the sentence is one voice turn, from 300 ms before the detector's first
    /// speech to 300 ms after its last (the segmenter's padding), where the detector alone may
    /// see several segments.
    @Test func utterancesAreTheVoiceTurnsTheKioskWouldSend() throws {
        func rows(_ options: [String]) throws -> [[Double]] {
            let result = try runProduct("hhctl", ["analyze", "audio", Self.recording.path, "--format", "csv"] + options)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            return result.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map { Double($0)! } }
        }
        let utterances = try rows(["--utterances"]), segments = try rows([])
        #expect(utterances.count == 1, "utterances: \(utterances)")
        guard let utterance = utterances.first, let first = segments.first, let last = segments.last else {
            Issue.record("no utterance or no segment: \(utterances), \(segments)")
            return
        }
        #expect(abs(utterance[0] - (first[0] - 0.3)) <= 0.015, "utterance \(utterance), segments \(segments)")
        #expect(abs(utterance[1] - (last[1] + 0.3)) <= 0.015, "utterance \(utterance), segments \(segments)")
    }

    @Test func tableAndJSONFormats() throws {
        let table = try runProduct("hhctl", ["analyze", "audio", Self.recording.path])
        #expect(table.status == 0)
        #expect(table.stdout.contains("22050 Hz, 2 channels, 16-bit PCM"))
        #expect(table.stdout.contains("speech segment"))
        let json = try runProduct("hhctl", ["analyze", "audio", Self.recording.path, "--format", "json"])
        #expect(json.status == 0)
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(document?["sample_rate"] as? Int == 22_050)
        #expect((document?["segments"] as? [[String: Double]])?.isEmpty == false)
    }

    @Test func errorsGoToStderrWithANonZeroExit() throws {
        let truncated = NSTemporaryDirectory() + "hhctl-\(UUID().uuidString).wav"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.recording.path))
        try bytes.prefix(10_000).write(to: URL(fileURLWithPath: truncated))
        defer { try? FileManager.default.removeItem(atPath: truncated) }
        let result = try runProduct("hhctl", ["analyze", "audio", truncated, "--format", "csv"])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("file ends inside the data chunk"))
        #expect(result.stderr.contains("byte offset 10000"))

        let notWAV = try runProduct("hhctl", ["analyze", "audio", "/etc/hostname"])
        #expect(notWAV.status != 0)
        #expect(notWAV.stderr.contains("not a WAV file") || notWAV.stderr.contains("RIFF header"))

        let missing = try runProduct("hhctl", ["analyze", "audio", "/nonexistent.wav"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot open"))

        let badSensitivity = try runProduct("hhctl", ["analyze", "audio", Self.recording.path, "--sensitivity", "2"])
        #expect(badSensitivity.status != 0)
        #expect(badSensitivity.stderr.contains("--sensitivity"))
    }
}
