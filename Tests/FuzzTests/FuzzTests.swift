import Analysis
import Devices
import Foundation
import HHProtocol
import Kiosk
import KioskControl
import MediaFiles
import NIOCore
import NIOEmbedded
import Relay
import TestSupport
import Testing
import VitalsCore

/// Every parser of outside bytes, fuzzed (see `Mutator.swift` for how), plus the committed
/// regression inputs and the media headers that must be refused.
@Suite struct MutationFuzzTests {
    @Test func y4mReader() { expectClean(FuzzHarness.fuzz(Targets.y4m())) }
    @Test func wavReader() { expectClean(FuzzHarness.fuzz(Targets.wav())) }
    @Test func mjpegDecoder() { expectClean(FuzzHarness.fuzz(Targets.mjpeg())) }
    @Test func sessionUpload() { expectClean(FuzzHarness.fuzz(Targets.session())) }
    @Test func controlRequest() { expectClean(FuzzHarness.fuzz(Targets.control())) }
    @Test func voiceTurnUpload() { expectClean(FuzzHarness.fuzz(Targets.turn())) }

    /// Every file of `Regressions/<target>/`, once as it is: a value or the documented error,
    /// in time.
    @Test func regressionInputsRunAsTheyAre() {
        for target in Targets.all() {
            expectClean(FuzzHarness.replayRegressions(target))
        }
    }

    /// Headers that claim what no camera or microphone delivers are refused with an error, by the
    /// readers where the file itself is impossible and by the entry points of `hhctl analyze
    /// video` and `hhctl analyze audio` (and `MonoAudioReader`, which the daemon's file source
    /// shares) where the engine cannot use it, before anything is allocated for it.
    @Test func mediaHeadersRefuseUnusableRatesAndSizes() {
        func regression(_ path: String) -> String { FuzzHarness.directory.appendingPathComponent("Regressions/" + path).path }
        let millionFPS = regression("y4m/frame-rate-1000000-1.y4m")
        let hugeFrames = regression("y4m/size-99999x99999.y4m")
        let oneHertz = regression("wav/sample-rate-1hz.wav")
        let noChannels = regression("wav/zero-channels.wav")

        #expect(throws: MediaFileError.self, "W99999 H99999: the Y4M reader refuses it") { _ = try Y4MReader(path: hugeFrames) }
        #expect(throws: MediaFileError.self, "0 channels: the WAV reader refuses it") { _ = try WAVReader(path: noChannels) }
        for path in [millionFPS, hugeFrames] {
            #expect(throws: MediaFileError.self, "hhctl analyze video \(path)") {
                _ = try VideoAnalysis.analyze(path: path, configuration: VitalsConfiguration())
            }
        }
        for path in [oneHertz, noChannels] {
            #expect(throws: MediaFileError.self, "MonoAudioReader \(path)") { _ = try MonoAudioReader(path: path) }
            #expect(throws: MediaFileError.self, "hhctl analyze audio \(path)") { _ = try AudioAnalysis.analyze(path: path) }
        }
    }

    private func expectClean(_ report: FuzzHarness.Report, sourceLocation: SourceLocation = #_sourceLocation) {
        for failure in report.failures {
            Issue.record("\(failure)", sourceLocation: sourceLocation)
        }
        if !report.failures.isEmpty || report.inputs > 0 {
            print("  \(report.inputs) inputs: \(report.accepted) accepted, \(report.refused) refused, slowest \(report.slowest)")
        }
    }
}

/// The parsers, each run the way the product runs it on bytes from outside.
enum Targets {
    static func all() -> [FuzzTarget] { [y4m(), wav(), mjpeg(), session(), control()] }

    /// `Y4MReader` over a file, every frame read (as `hhctl analyze video` and the daemon's file
    /// source read it): frames of exactly the header's size, or ``MediaFileError``.
    static func y4m() -> FuzzTarget {
        FuzzTarget(
            name: "y4m",
            dictionary: tokens("YUV4MPEG2 ", " W", " H", " F", " Ip", " It", " I?", " A1:1", " A0:0", " C420jpeg", " C420paldv", " Cmono",
                               " C444", " C422", " C420p10", " XCOLORRANGE=FULL", " XCOLORRANGE=", "FRAME\n", "FRAME ", "FRAME", "\n", " ", ":")
        ) { input in
            verdict(refusing: MediaFileError.self) {
                let reader = try Y4MReader(path: input.path)
                var frame: [UInt8] = []
                var frames = 0
                while try reader.readFrame(into: &frame) {
                    frames += 1
                    guard frame.count == reader.header.frameSize else {
                        throw PropertyViolation("frame \(frames) has \(frame.count) bytes, the header says \(reader.header.frameSize)")
                    }
                }
                guard frames == reader.framesRead else { throw PropertyViolation("read \(frames) frames, the reader counts \(reader.framesRead)") }
            }
        }
    }

    /// `WAVReader` over a file, every frame read; then the same file through `MonoAudioReader`
    /// (what `hhctl analyze audio` reads): samples of whole frames, as many as the header says,
    /// or ``MediaFileError``.
    static func wav() -> FuzzTarget {
        FuzzTarget(
            name: "wav",
            dictionary: tokens("RIFF", "WAVE", "fmt ", "data", "LIST", "fact", "RF64", "RIFX", "JUNK") + wavBinaryTokens
        ) { input in
            verdict(refusing: MediaFileError.self) {
                let reader = try WAVReader(path: input.path)
                var samples: [Float] = []
                var frames = 0
                while true {
                    let got = try reader.read(maximumFrames: 1000, into: &samples)
                    guard got > 0 else { break }
                    guard samples.count == got * reader.format.channelCount else {
                        throw PropertyViolation("\(got) frames of \(reader.format.channelCount) channels came as \(samples.count) samples")
                    }
                    frames += got
                }
                if let declared = reader.frameCount, declared != frames {
                    throw PropertyViolation("read \(frames) frames, the data chunk declares \(declared)")
                }
                var mono = try MonoAudioReader(path: input.path)
                while try mono.next() != nil {}
                guard mono.framesRead == frames else {
                    throw PropertyViolation("MonoAudioReader read \(mono.framesRead) frames, WAVReader \(frames)")
                }
            }
        }
    }

    /// The extensible subformat GUID tail, the extensible and float format tags, a size of 0xFFFFFFFF.
    static let wavBinaryTokens: [[UInt8]] = [
        [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71],
        [0xFE, 0xFF], [0x03, 0x00], [0xFF, 0xFF, 0xFF, 0xFF],
    ]

    /// The markers of a JPEG stream (SOI, EOI, SOS, DQT, DHT, SOF0/1/2, DRI with an interval, APP0, COM, a stuffed byte, fill, RST).
    static let jpegMarkers: [[UInt8]] = [
        [0xFF, 0xD8], [0xFF, 0xD9], [0xFF, 0xDA], [0xFF, 0xDB], [0xFF, 0xC4], [0xFF, 0xC0], [0xFF, 0xC2], [0xFF, 0xC1],
        [0xFF, 0xDD, 0x00, 0x04, 0x00, 0x01], [0xFF, 0xE0], [0xFF, 0xFE], [0xFF, 0x00], [0xFF, 0xFF], [0xFF, 0xD0], [0xFF, 0xD7],
    ]

    /// `MJPEGDecoder.decode` (one decoder for every input, as a camera's stream uses one), told the
    /// frame size the seed's file name gives (`…-WxH.jpg`, 32x24 without one) as the camera's
    /// negotiated format tells it: RGB24 of that size, or `DeviceError`.
    static func mjpeg() -> FuzzTarget {
        let decoder: MJPEGDecoder?
        do { decoder = try MJPEGDecoder() } catch { decoder = nil }
        return FuzzTarget(
            name: "mjpeg",
            dictionary: jpegMarkers
        ) { input in
            guard let decoder else { return .wrong("libturbojpeg: cannot create a decompressor") }
            let (width, height) = Targets.frameSize(named: input.origin)
            return verdict(refusing: DeviceError.self) {
                var rgb: [UInt8] = []
                try input.bytes.withUnsafeBytes { try decoder.decode($0, width: width, height: height, into: &rgb) }
                guard rgb.count == width * height * 3 else {
                    throw PropertyViolation("decoded \(rgb.count) bytes for \(width)x\(height) RGB24")
                }
            }
        }
    }

    /// The frame size in a corpus file name: `422-q85-32x24.jpg` → 32×24.
    static func frameSize(named name: String) -> (Int, Int) {
        let stem = name.split(separator: ".").first.map(String.init) ?? name
        if let last = stem.split(separator: "-").last {
            let parts = last.split(separator: "x")
            if parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), width > 0, height > 0, width * height <= 1 << 20 {
                return (width, height)
            }
        }
        return (32, 24)
    }

    /// The relay's reading of a `POST /v1/sessions` body, `SessionUpload.parse` (decoding and
    /// validation, before anything is stored): a document, or `APIError`.
    static func session() -> FuzzTarget {
        FuzzTarget(
            name: "session",
            dictionary: tokens("null", "true", "false", "\"\"", "[]", "{}", ",", ":", "\"", "\\u0000", "\\ud800", "\\\"", "1e999", "-0", "[[[[[[[[",
                               "\"t\":", "\"bpm\":", "\"id\":\"", "\"schema_version\":", "\"started_at\":", "\"ended_at\":", "\"heart_rate\":[",
                               "\"voice_turns\":[", "\"summary\":{", "\"metadata\":{", "\"variability\":{", "\"end_reason\":\"", "\"camera\":",
                               "\"2024-02-29T23:59:60.999999+23:59\"", "\"0000-00-00T00:00:00Z\"", "\"9999-12-31T23:59:59.999Z\"",
                               "\"00000000-0000-0000-0000-000000000000\"", "\u{FEFF}", "\u{00E9}", "\u{1F600}"),
            maximumSize: 256 * 1024
        ) { input in
            verdict(refusing: APIError.self) {
                _ = try SessionUpload.parse(Data(input.bytes))
            }
        }
    }

    /// The relay's reading of a `POST /v1/sessions/{id}/turns` body, `TurnUpload.parse`
    /// (multipart framing, the strict turn part, the WAV decoded and converted, the silence
    /// check): a turn, or `APIError`.
    static func turn() -> FuzzTarget {
        FuzzTarget(
            name: "turn",
            dictionary: tokens("--fuzzb\r\n", "\r\n--fuzzb--\r\n", "--fuzzb--", "\r\n\r\n", "Content-Disposition: form-data; name=\"audio\"",
                               "Content-Disposition: form-data; name=\"turn\"", "name=\"", "RIFF", "WAVE", "fmt ", "data", "\"vitals\":",
                               "\"heart_rate_bpm\":", "\"language\":\"", "null", "\\u0000", "1e999"),
            maximumSize: 128 * 1024
        ) { input in
            verdict(refusing: APIError.self) {
                _ = try TurnUpload.parse(ByteBuffer(bytes: input.bytes), contentType: "multipart/form-data; boundary=fuzzb")
            }
        }
    }

    /// The daemon's control socket: the bytes framed by its `LineDecoder` (through an
    /// `EmbeddedChannel`, arriving in up to four pieces; with the server's limit and with a small
    /// one), then each line decoded as `ControlServer.respond` decodes it. Lines that are the
    /// input split at its newlines, each a `ControlProtocol.Request` or a `DecodingError`; only
    /// `ControlLineTooLong` (or NIO's `ByteToMessageDecoderError`) from the framing.
    static func control() -> FuzzTarget {
        FuzzTarget(
            name: "control",
            dictionary: tokens("\"version\":", "\"command\":", "\"limit\":", "\"status\"", "\"sessions\"", "\"flush\"", "\n", "\r\n", "null",
                               "-9223372036854775808", "9223372036854775808", "1e999", "{}", "[]", "\"", "\\u0000", "{\"version\":1,\"command\":\"status\"}\n")
        ) { input in
            var random = SplitMix64(seed: input.salt)
            var cuts: [Int] = []
            if input.salt != 0 {
                for _ in 0..<random.below(4) { cuts.append(random.below(input.bytes.count + 1)) }
                cuts.sort()
            }
            let framed = Targets.frame(input.bytes, limit: ControlProtocol.maximumRequestBytes, cuts: cuts)
            if let wrong = framed.wrong { return .wrong(wrong) }
            let tight = Targets.frame(input.bytes, limit: 24, cuts: cuts)
            if let wrong = tight.wrong { return .wrong("with a 24-byte limit: \(wrong)") }
            var refusal = framed.refusal
            for line in framed.lines {
                do {
                    _ = try JSONDecoder().decode(ControlProtocol.Request.self, from: Data(line.readableBytesView))
                } catch let error as DecodingError {
                    refusal = refusal ?? "\(error)"
                } catch {
                    return .wrong("decoding a line threw \(type(of: error)) (not DecodingError): \(error)")
                }
            }
            if framed.lines.isEmpty { refusal = refusal ?? "no complete line" }
            if let refusal { return .refused(refusal) }
            return .accepted
        }
    }

    /// What the line framing made of some bytes.
    struct Framing {
        var lines: [ByteBuffer] = []
        /// The framing's documented refusal (a line too long).
        var refusal: String?
        /// An undocumented error or a broken property.
        var wrong: String?
    }

    /// `bytes` through `ByteToMessageHandler(LineDecoder(limit:))`, written in pieces ending at
    /// `cuts` (sorted), then the channel closed.
    static func frame(_ bytes: [UInt8], limit: Int, cuts: [Int]) -> Framing {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineDecoder(limit: limit)))
        var framing = Framing()
        var start = 0
        for end in cuts + [bytes.count] where framing.refusal == nil && framing.wrong == nil {
            do {
                try channel.writeInbound(ByteBuffer(bytes: bytes[start..<end]))
            } catch is ControlLineTooLong {
                framing.refusal = "a line longer than \(limit) bytes"
            } catch let error as ByteToMessageDecoderError {
                framing.refusal = "\(error)"
            } catch {
                framing.wrong = "the line framing threw \(type(of: error)): \(error)"
            }
            start = end
            while let line = try? channel.readInbound(as: ByteBuffer.self) { framing.lines.append(line) }
        }
        _ = try? channel.finish(acceptAlreadyClosed: true)
        while let line = try? channel.readInbound(as: ByteBuffer.self) { framing.lines.append(line) }

        var delivered: [UInt8] = []
        for line in framing.lines {
            let content = Array(line.readableBytesView)
            if content.contains(UInt8(ascii: "\n")) {
                framing.wrong = framing.wrong ?? "a line holds a newline"
            }
            delivered += content
            delivered.append(UInt8(ascii: "\n"))
        }
        guard bytes.starts(with: delivered) else {
            framing.wrong = framing.wrong ?? "the lines are not the input split at its newlines"
            return framing
        }
        if framing.refusal == nil, framing.wrong == nil {
            let rest = bytes[delivered.count...]
            if rest.contains(UInt8(ascii: "\n")) {
                framing.wrong = "a complete line was not delivered"
            } else if rest.count > limit {
                framing.wrong = "\(rest.count) bytes without a newline were held without refusal (the limit is \(limit))"
            }
        }
        return framing
    }

    /// UTF-8 tokens.
    static func tokens(_ texts: String...) -> [[UInt8]] { texts.map { Array($0.utf8) } }
}
