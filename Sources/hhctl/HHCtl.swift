import Analysis
import ArgumentParser
import KioskControl
import VitalsCore
import VoiceCore

/// `hhctl`: the kiosk administrator's command line.
@main
struct HHCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hhctl",
        abstract: "Administer a Health Helper kiosk.",
        version: KioskVersion.current,
        subcommands: [Status.self, Sessions.self, Flush.self, Config.self, Enroll.self, CaptureTest.self, SpeakerTest.self, Analyze.self]
    )
}

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse a recording offline.",
        subcommands: [Video.self, Audio.self]
    )
}

extension PulseMethod: ExpressibleByArgument {}
extension ReportFormat: ExpressibleByArgument {}

struct Video: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Heart rate (and respiration, HRV) from a face video in YUV4MPEG2 (.y4m) format.",
        discussion: """
            Prints one estimate per second of video, timed at the centre of the window it was \
            computed from. With --format csv: the header t_s,hr_bpm,snr_db and one row per second \
            (hr_bpm empty where there is no estimate).
            """
    )

    @Argument(help: "The .y4m file.")
    var file: String

    @Option(help: "Pulse extraction method: \(PulseMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var method: PulseMethod = VitalsConfiguration().method

    @Option(help: "Output format: \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: ReportFormat = .table

    func run() throws {
        var configuration = VitalsConfiguration()
        configuration.method = method
        let result: VideoAnalysis.Result
        do {
            result = try VideoAnalysis.analyze(path: file, configuration: configuration)
        } catch {
            throw Failure("\(file): \(error)")
        }
        print(try EstimateReport.render(result, method: method, format: format), terminator: "")
    }
}

struct Audio: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Speech segments in a WAV recording (voice activity detection).",
        discussion: """
            Any PCM or float WAV file: the audio is converted to 16 kHz mono first. Prints what \
            the detector decided, 10 ms at a time, as speech segments (before the utterance \
            padding and merging of live voice turns). With --utterances: the utterances the \
            kiosk would send as voice turns instead (300 ms padding, ended by 700 ms of \
            non-speech, at least 200 ms of speech). With --format csv: the header \
            start_s,end_s and one row per segment.
            """
    )

    @Argument(help: "The .wav file.")
    var file: String

    @Option(help: "Detector sensitivity from 0 (fewest false alarms) to 1 (fewest misses).")
    var sensitivity: Double = VoiceActivityConfiguration().sensitivity

    @Option(help: "Output format: \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: ReportFormat = .table

    @Flag(help: "Print the utterances the kiosk would send as voice turns, not the detector's segments.")
    var utterances = false

    func validate() throws {
        guard (0...1).contains(sensitivity) else { throw ValidationError("--sensitivity must be between 0 and 1") }
    }

    func run() throws {
        let result: AudioAnalysis.Result
        do {
            let detector = VoiceActivityConfiguration(sensitivity: sensitivity)
            result = utterances
                ? try AudioAnalysis.utterances(path: file, configuration: UtteranceConfiguration(detector: detector))
                : try AudioAnalysis.analyze(path: file, configuration: detector)
        } catch {
            throw Failure("\(file): \(error)")
        }
        print(try SpeechReport.render(result, format: format), terminator: "")
    }
}

/// An error reported to the administrator as it is, on stderr, with exit code 1.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
