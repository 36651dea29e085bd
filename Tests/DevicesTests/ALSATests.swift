import Devices
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ALSA without a sound card: the `file` plugin over the `null` device reads capture data
/// from a file and writes playback data to one (see ../shared/RECIPES.md). The real alsa-lib
/// code paths run: open, hardware parameters, readi/writei, drain.
enum ALSAFixture {
    static let directory: String = {
        let path = NSTemporaryDirectory() + "alsa-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// 3 s of a 440 Hz tone at -20 dBFS RMS as S16_LE samples, then a little silence.
    static let samples: [Int16] = (0..<(16_000 * 3)).map { index in
        Int16((0.1 * 1.414_213_56 * sin(2 * Double.pi * 440 * Double(index) / 16_000) * 32_767).rounded())
    } + [Int16](repeating: 0, count: 1_600)

    /// Writes the capture file and the configuration, and points alsa-lib at it. Runs once,
    /// before the first PCM is opened in this process.
    static let configured: Bool = {
        let input = directory + "/in.raw"
        let data = samples.withUnsafeBytes { Data($0) }
        try! data.write(to: URL(fileURLWithPath: input))
        let configuration = """
            pcm.testcap { type file slave.pcm "null" file "/dev/null" infile "\(input)" format "raw" }
            pcm.testplay { type file slave.pcm "null" file "\(directory)/out.raw" format "raw" }
            """
        try! configuration.write(toFile: directory + "/asound.conf", atomically: true, encoding: .utf8)
        setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:\(directory)/asound.conf", 1)
        return true
    }()
}

@Suite(.serialized) struct ALSATests {
    @Test func captureDeliversTheDeviceSamplesExactlyAs16kHzMono() throws {
        #expect(ALSAFixture.configured)
        let source = ALSAAudioSource(name: "testcap", periodMilliseconds: 20, bufferMilliseconds: 200)
        let format = try source.open()
        defer { source.close() }
        #expect(format == AudioStreamFormat(sampleRate: 16_000, channelCount: 1, encoding: "S16_LE"))
        var captured: [Float] = []
        var times: [Double] = []
        while captured.count < 32_000 {
            let block = try #require(try source.read())
            times.append(block.time)
            captured += block.samples
        }
        let expected = ALSAFixture.samples.prefix(captured.count).map { Float($0) / 32_768 }
        #expect(captured == Array(expected), "bit-exact through alsa-lib and the converter")
        #expect(times == times.sorted() && times.first == 0)
        #expect(source.overruns == 0)
    }

    @Test func playbackWritesTheSamplesExactly() throws {
        #expect(ALSAFixture.configured)
        let speaker = ALSASpeaker(name: "testplay")
        let reply = Array(ALSAFixture.samples.prefix(8_000))
        try speaker.play(reply, sampleRate: 16_000)
        let written = try Data(contentsOf: URL(fileURLWithPath: ALSAFixture.directory + "/out.raw"))
        #expect(written == reply.withUnsafeBytes { Data($0) })
    }

    @Test func aMissingPCMIsAClearErrorNamingIt() {
        #expect(ALSAFixture.configured)
        #expect {
            _ = try ALSAAudioSource(name: "no_such_pcm").open()
        } throws: { error in
            guard let error = error as? DeviceError else { return false }
            return "\(error)".contains("no_such_pcm")
        }
        #expect(throws: DeviceError.self) { try ALSASpeaker(name: "no_such_pcm").play([0, 1, 2], sampleRate: 16_000) }
    }
}
