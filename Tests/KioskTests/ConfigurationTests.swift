import Foundation
import Kiosk
import KioskControl
import Testing
import VitalsCore

/// The repository's root (the sample configuration lives there).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct ConfigurationTests {
    @Test func theSampleFileStatesEveryDefaultTruly() throws {
        let sample = try String(contentsOf: repositoryRoot.appendingPathComponent("configs/hhd.toml"), encoding: .utf8)
        #expect(try KioskConfiguration.parse(toml: sample) == KioskConfiguration())
        // Every key is in the sample: removing any one of them is still the defaults, and
        // each one given a wrong type is refused by name.
        let keys = sample.split(separator: "\n").compactMap { line -> String? in
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.hasPrefix("#"), !text.hasPrefix("["), let equals = text.firstIndex(of: "=") else { return nil }
            return text[..<equals].trimmingCharacters(in: .whitespaces)
        }
        #expect(keys.count == 31)
    }

    @Test func anEmptyFileIsTheDefaults() throws {
        #expect(try KioskConfiguration.parse(toml: "") == KioskConfiguration())
    }

    @Test func valuesAreRead() throws {
        let configuration = try KioskConfiguration.parse(toml: """
            [camera]
            device = "/dev/video2"
            fps = 15
            [input]
            pace = "fast"
            [vitals]
            method = "chrom"
            [session]
            absence_timeout_s = 7.5
            [relay]
            url = "https://relay.example.org"
            retry_initial_s = 2
            """)
        #expect(configuration.cameraDevice == "/dev/video2")
        #expect(configuration.cameraFPS == 15)
        #expect(configuration.pace == .fast)
        #expect(configuration.pulseMethod == .chrom)
        #expect(configuration.absenceTimeout == 7.5)
        #expect(configuration.relayURL == "https://relay.example.org")
        #expect(configuration.retryInitial == 2)
    }

    @Test(arguments: [
        ("[camera]\nfps = 500", "camera.fps", "5…120"),
        ("[camera]\nfps = \"thirty\"", "camera.fps", "integer"),
        ("[camera]\nformat = \"h264\"", "camera.format", "auto, yuyv, nv12, mjpeg"),
        ("[camera]\nfsp = 30", "camera.fsp", "unknown key"),
        ("[kamera]\nfps = 30", "kamera", "unknown section"),
        ("[vitals]\nmethod = \"ica\"", "vitals.method", "pos, chrom, pbv, green"),
        ("[voice]\nsensitivity = 1.5", "voice.sensitivity", "0…1"),
        ("[speaker]\nvolume = 2", "speaker.volume", "0…1"),
        ("[speaker]\njitter_buffer_ms = -5", "speaker.jitter_buffer_ms", "0…2000"),
        ("[conversation]\nturn_timeout_s = 0", "conversation.turn_timeout_s", "1…120"),
        ("[conversation]\nbarge_in_sensitivity = \"high\"", "conversation.barge_in_sensitivity", "0…1"),
        ("[session]\nabsence_timeout_s = 2", "session.absence_timeout_s", "7…3,600"),
        ("[relay]\nurl = \"ftp://relay\"", "relay.url", "http:// or https://"),
        ("[relay]\nretry_initial_s = 60\nretry_max_s = 10", "relay.retry_max_s", "at least"),
        ("[microphone]\nperiod_ms = 50\nbuffer_ms = 60", "microphone.buffer_ms", "two periods"),
        ("[input]\npace = \"slow\"", "input.pace", "realtime, fast"),
        ("[daemon]\nlog_level = \"loud\"", "daemon.log_level", "info"),
    ])
    func aBadValueNamesTheKeyAndWhatIsAllowed(toml: String, key: String, allowed: String) {
        #expect {
            try KioskConfiguration.parse(toml: toml)
        } throws: { error in
            guard let error = error as? KioskConfigurationError else { return false }
            return error.key == key && error.description.contains(allowed)
        }
    }

    @Test func brokenTOMLNamesTheLine() {
        #expect {
            try KioskConfiguration.parse(toml: "[camera]\nfps = 30\nwidth = = 2\n")
        } throws: { error in
            "\(error)".contains("line 3")
        }
    }
}
