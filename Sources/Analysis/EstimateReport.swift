import Foundation
import MediaFiles
import VitalsCore

/// Output formats of `hhctl analyze`.
public enum ReportFormat: String, Sendable, CaseIterable {
    /// A readable, aligned table.
    case table
    /// `t_s,hr_bpm,snr_db`, one row per estimate.
    case csv
    /// One JSON document with every estimate and a summary.
    case json
}

/// Renders vitals estimates for people and for machines.
public enum EstimateReport {
    /// The estimates in `format`, ending with a newline.
    public static func render(_ result: VideoAnalysis.Result, method: PulseMethod, format: ReportFormat) throws -> String {
        switch format {
        case .csv: return csv(result.estimates)
        case .table: return table(result, method: method)
        case .json: return try json(result, method: method)
        }
    }

    /// `t_s,hr_bpm,snr_db` and one row per estimate; empty fields where there is no value.
    public static func csv(_ estimates: [VitalsEstimate]) -> String {
        var out = "t_s,hr_bpm,snr_db\n"
        for e in estimates {
            out += "\(ReportText.fixed(e.time, 2)),\(e.heartRate.map { ReportText.fixed($0, 1) } ?? ""),\(e.snr.map { ReportText.fixed($0, 1) } ?? "")\n"
        }
        return out
    }

    static func table(_ result: VideoAnalysis.Result, method: PulseMethod) -> String {
        let h = result.header
        var out = "\(h.width)x\(h.height) C\(h.colourSpace.rawValue) \(ReportText.fixed(h.framesPerSecond, 2)) fps, \(result.frames) frames, method \(method.rawValue)\n"
        out += ReportText.pad("time s", 8) + ReportText.pad("HR bpm", 8) + ReportText.pad("SNR dB", 8) + ReportText.pad("RR /min", 9) + ReportText.pad("RMSSD ms", 10) + ReportText.pad("SDNN ms", 9) + "status\n"
        for e in result.estimates {
            out += ReportText.pad(ReportText.fixed(e.time, 1), 8) + ReportText.pad(e.heartRate.map { ReportText.fixed($0, 1) } ?? "-", 8)
            out += ReportText.pad(e.snr.map { ReportText.fixed($0, 1) } ?? "-", 8) + ReportText.pad(e.respirationRate.map { ReportText.fixed($0, 1) } ?? "-", 9)
            out += ReportText.pad(e.variability.map { ReportText.fixed($0.rmssd, 0) } ?? "-", 10) + ReportText.pad(e.variability.map { ReportText.fixed($0.sdnn, 0) } ?? "-", 9)
            out += e.status.rawValue.replacingOccurrences(of: "_", with: " ") + "\n"
        }
        let rates = result.estimates.compactMap(\.heartRate)
        if rates.isEmpty {
            out += "no heart rate: \(result.estimates.isEmpty ? "video shorter than one window" : "no face or too little signal")\n"
        } else {
            out += "heart rate \(ReportText.fixed(rates.reduce(0, +) / Double(rates.count), 1)) bpm on average, "
            out += "\(rates.count) of \(result.estimates.count) seconds with an estimate\n"
        }
        return out
    }

    struct Document: Encodable {
        struct Entry: Encodable {
            var t_s: Double
            var status: String
            var hr_bpm: Double?
            var snr_db: Double?
            var rr_bpm: Double?
            var rmssd_ms: Double?
            var sdnn_ms: Double?
        }
        var width: Int
        var height: Int
        var fps: Double
        var frames: Int
        var method: String
        var estimates: [Entry]
    }

    static func json(_ result: VideoAnalysis.Result, method: PulseMethod) throws -> String {
        func round(_ v: Double?, _ places: Double) -> Double? { v.map { ($0 * places).rounded() / places } }
        let document = Document(
            width: result.header.width,
            height: result.header.height,
            fps: result.header.framesPerSecond,
            frames: result.frames,
            method: method.rawValue,
            estimates: result.estimates.map {
                .init(
                    t_s: round($0.time, 1000)!,
                    status: $0.status.rawValue,
                    hr_bpm: round($0.heartRate, 10),
                    snr_db: round($0.snr, 10),
                    rr_bpm: round($0.respirationRate, 10),
                    rmssd_ms: round($0.variability?.rmssd, 10),
                    sdnn_ms: round($0.variability?.sdnn, 10)
                )
            }
        )
        return try ReportText.json(document)
    }
}
