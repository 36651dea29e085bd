import MediaFiles

/// Renders detected speech segments for people and for machines.
public enum SpeechReport {
    /// The segments in `format`, ending with a newline.
    public static func render(_ result: AudioAnalysis.Result, format: ReportFormat) throws -> String {
        switch format {
        case .csv: return csv(result.segments)
        case .table: return table(result)
        case .json: return try json(result)
        }
    }

    /// `start_s,end_s` and one row per segment.
    public static func csv(_ segments: [AudioAnalysis.Segment]) -> String {
        var out = "start_s,end_s\n"
        for s in segments { out += "\(ReportText.fixed(s.start, 2)),\(ReportText.fixed(s.end, 2))\n" }
        return out
    }

    static func table(_ result: AudioAnalysis.Result) -> String {
        var out = "\(result.format), \(ReportText.fixed(result.duration, 2)) s\n"
        out += ReportText.pad("start s", 10) + ReportText.pad("end s", 10) + "length s\n"
        for s in result.segments {
            out += ReportText.pad(ReportText.fixed(s.start, 2), 10) + ReportText.pad(ReportText.fixed(s.end, 2), 10)
            out += ReportText.fixed(s.end - s.start, 2) + "\n"
        }
        let speech = result.segments.reduce(0) { $0 + $1.end - $1.start }
        out += "\(result.segments.count) speech segment\(result.segments.count == 1 ? "" : "s"), \(ReportText.fixed(speech, 2)) s of speech\n"
        return out
    }

    struct Document: Encodable {
        struct Segment: Encodable {
            var start_s: Double
            var end_s: Double
        }
        var sample_rate: Int
        var channels: Int
        var duration_s: Double
        var speech_s: Double
        var segments: [Segment]
    }

    static func json(_ result: AudioAnalysis.Result) throws -> String {
        func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        let document = Document(
            sample_rate: result.format.sampleRate,
            channels: result.format.channelCount,
            duration_s: round(result.duration),
            speech_s: round(result.segments.reduce(0) { $0 + $1.end - $1.start }),
            segments: result.segments.map { .init(start_s: round($0.start), end_s: round($0.end)) }
        )
        return try ReportText.json(document)
    }
}
