import Foundation
import HHProtocol
import Relay
import Testing

/// What a session document may contain before any decoder sees it (issue: duplicate keys,
/// `\u0000`, byte-order marks and UTF-16 were accepted and then stored differently or not at all).
@Suite struct StrictJSONTests {
    private func problem(_ text: String) -> String? {
        problem(Array(text.utf8))
    }

    private func problem(_ bytes: [UInt8]) -> String? {
        do {
            try StrictJSON.check(bytes, shape: SessionDocument.shape)
            return nil
        } catch {
            return error.description
        }
    }

    private var valid: String { String(decoding: sessionJSON(), as: UTF8.self) }

    @Test func aDocumentTheKioskWritesPasses() {
        #expect(problem(valid) == nil)
        #expect(problem("  \n" + valid + "\r\n\t") == nil, "white space around the value")
        #expect(problem(#"{"summary":{"variability":null},"metadata":{"camera":null}}"#) == nil, "null stands for any absent value")
        #expect(problem(#"{"id":"\u00e9\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t"}"#) == nil, "every escape, a surrogate pair")
    }

    @Test func duplicateKeysAreRefusedAtEveryLevel() {
        #expect(problem(#"{"id":"a","id":"b"}"#)?.contains("\"id\" appears twice") == true)
        let nested = valid.replacingOccurrences(of: #""heart_rate_median_bpm":72"#, with: #""heart_rate_median_bpm":72,"heart_rate_median_bpm":5000"#)
        #expect(nested != valid)
        let message = problem(nested)
        #expect(message?.contains("appears twice") == true && message?.contains("summary") == true, "\(message ?? "accepted")")
    }

    @Test func unknownKeysAreRefusedAtEveryLevel() {
        #expect(problem(#"{"padding":"x"}"#)?.contains("unknown key \"padding\"") == true)
        #expect(problem(#"{"heart_rate":[{"t":1,"extra":2}]}"#)?.contains("heart_rate[0]") == true)
        #expect(problem(#"{"metadata":{"software_version":"1","note":"x"}}"#)?.contains("metadata") == true)
    }

    @Test func whatPostgresCannotStoreIsRefused() {
        #expect(problem(#"{"id":"a\u0000b"}"#)?.contains("\\u0000") == true)
        #expect(problem(#"{"id":"\ud800"}"#)?.contains("surrogate") == true)
        #expect(problem(#"{"id":"\udc00x"}"#)?.contains("surrogate") == true)
        #expect(problem(#"{"id":"\ud800\u0041"}"#)?.contains("surrogate") == true)
        #expect(problem([0xEF, 0xBB, 0xBF] + Array(valid.utf8))?.contains("byte-order mark") == true)
        let utf16 = Array(valid.data(using: .utf16LittleEndian)!)
        #expect(problem(utf16)?.contains("UTF-16") == true)
        #expect(problem([0xFF, 0xFE] + utf16) != nil)
        #expect(problem(Array(#"{"id":""#.utf8) + [0xC0, 0x80] + Array(#""}"#.utf8))?.contains("not UTF-8") == true, "overlong NUL")
        #expect(problem(Array(#"{"id":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8))?.contains("not UTF-8") == true, "encoded surrogate")
        #expect(problem(Array(#"{"id":""#.utf8) + [0x01] + Array(#""}"#.utf8))?.contains("control character") == true)
        #expect(problem(#"{"heart_rate":[{"t":1e-20000}]}"#)?.contains("range of a double") == true, "decodes as 0, refused by numeric")
        #expect(problem(#"{"heart_rate":[{"t":1E+400}]}"#)?.contains("range of a double") == true)
        #expect(problem(#"{"heart_rate":[{"t":1.5e-7,"bpm":7.25E1}]}"#) == nil)
    }

    @Test func grammarAndDepth() {
        for bad in ["", "{", "{}x", #"{"id":01}"#, #"{"id":1.}"#, #"{"id":-}"#, #"{"id":1e}"#, #"{"id":tru}"#, #"{"id":"a"#, "[]", #"{"id" 1}"#, #"{"id":1,}"#] {
            #expect(problem(bad) != nil, "\(bad)")
        }
        #expect(problem(#"{"heart_rate":{"t":1}}"#)?.contains("wrong type at heart_rate: expected an array") == true)
        let deep = StrictJSON.Shape.array(.array(.array(.array(.array(.array(.array(.array(.array(.array(.array(.array(.array(.array(.array(.array(.array(.scalar)))))))))))))))))
        let nested = String(repeating: "[", count: 17) + "1" + String(repeating: "]", count: 17)
        #expect(throws: StrictJSON.Failure.self) { try StrictJSON.check(Array(nested.utf8), shape: deep) }
    }
}

@Suite struct TimestampStrictnessTests {
    @Test(arguments: ["2026-02-31T10:00:00Z", "2025-02-29T10:00:00Z", "0000-01-01T00:00:00Z", "2026-04-31T00:00:00Z",
                      "2026-01-01T10:00:00+99:99", "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00-00:60", "2026-13-01T00:00:00Z"])
    func datesThatDoNotExistAreRefused(_ text: String) {
        #expect(WireTimestamp.parse(text) == nil)
    }

    @Test func realDatesStillParse() {
        #expect(WireTimestamp.parse("2024-02-29T23:59:59.5Z") != nil)
        #expect(WireTimestamp.parse("2026-01-01T10:00:00+23:59") != nil)
        #expect(WireTimestamp.parse("2026-12-31T00:00:00-05:00") != nil)
    }
}

@Suite struct SessionLimitTests {
    private func document(duration: Double, samples: [HeartRateSample] = [], turns: [VoiceTurnSummary] = [], camera: String? = nil, start: Double = 1_800_000_000) -> SessionDocument {
        SessionDocument(
            id: UUID().uuidString.lowercased(), startedAt: Date(timeIntervalSince1970: start), endedAt: Date(timeIntervalSince1970: start + duration),
            endReason: .absence, heartRate: samples, summary: VitalsSummary(series: samples), voiceTurns: turns,
            metadata: SessionMetadata(softwareVersion: "0.5.0", pulseMethod: "pos", camera: camera))
    }

    @Test func aSessionHasAtMostOneSampleASecond() {
        let many = (0..<50_000).map { HeartRateSample(t: Double($0) * 1e-5) }
        #expect(SessionValidation.problems(document(duration: 0, samples: many)).contains { $0.contains("at most one a second") })
        let fine = (0...30).map { HeartRateSample(t: Double($0), bpm: 70) }
        #expect(SessionValidation.problems(document(duration: 30, samples: fine)).isEmpty)
        let repeated = [HeartRateSample(t: 1), HeartRateSample(t: 1)]
        #expect(!SessionValidation.problems(document(duration: 30, samples: repeated)).isEmpty, "times strictly increase")
    }

    @Test func turnsLieWithinTheirSession() {
        let id = UUID().uuidString.lowercased()
        for (start, end) in [(-1e300, 1.0), (1.0, 1e300), (0.0, 65.0), (-40.0, -35.0)] {
            #expect(!SessionValidation.problems(document(duration: 30, turns: [VoiceTurnSummary(id: id, startS: start, endS: end)])).isEmpty, "\(start)…\(end)")
        }
        #expect(SessionValidation.problems(document(duration: 30, turns: [VoiceTurnSummary(id: id, startS: -0.3, endS: 2)])).isEmpty,
                "an utterance padded before the face opened the session")
        #expect(SessionValidation.problems(document(duration: 30, turns: [VoiceTurnSummary(id: id, startS: 25, endS: 41)])).isEmpty,
                "an utterance released just before the session was cut at its maximum length")
    }

    @Test func textLimitsAreBytesNotCharacters() {
        let combining = "e" + String(repeating: "\u{301}", count: 700)
        #expect(combining.count == 1)
        #expect(SessionValidation.problems(document(duration: 30, camera: combining)).contains { $0.contains("200 bytes") })
        #expect(!SessionValidation.problems(document(duration: 30, camera: "caméra")).isEmpty, "printable ASCII only")
        #expect(SessionValidation.problems(document(duration: 30, camera: String(repeating: "x", count: 201))).contains { $0.contains("200 bytes") })
        #expect(SessionValidation.problems(document(duration: 30, camera: String(repeating: "x", count: 200))).isEmpty)
    }

    @Test func implausibleDatesAreRefused() {
        #expect(!SessionValidation.problems(document(duration: 30, start: -62_135_596_800)).isEmpty, "year 1")
        #expect(SessionValidation.problems(document(duration: 30, start: 1000)).isEmpty, "a kiosk whose clock was never set: still a real session")
        #expect(!SessionValidation.problems(document(duration: 30, start: 5_000_000_000)).isEmpty, "year 2128")
    }
}
