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
            out += "\(fixed(e.time, 2)),\(e.heartRate.map { fixed($0, 1) } ?? ""),\(e.snr.map { fixed($0, 1) } ?? "")\n"
        }
        return out
    }

    static func table(_ result: VideoAnalysis.Result, method: PulseMethod) -> String {
        let h = result.header
        var out = "\(h.width)x\(h.height) C\(h.colourSpace.rawValue) \(fixed(h.framesPerSecond, 2)) fps, \(result.frames) frames, method \(method.rawValue)\n"
        out += pad("time s", 8) + pad("HR bpm", 8) + pad("SNR dB", 8) + pad("RR /min", 9) + pad("RMSSD ms", 10) + pad("SDNN ms", 9) + "status\n"
        for e in result.estimates {
            out += pad(fixed(e.time, 1), 8) + pad(e.heartRate.map { fixed($0, 1) } ?? "-", 8)
            out += pad(e.snr.map { fixed($0, 1) } ?? "-", 8) + pad(e.respirationRate.map { fixed($0, 1) } ?? "-", 9)
            out += pad(e.variability.map { fixed($0.rmssd, 0) } ?? "-", 10) + pad(e.variability.map { fixed($0.sdnn, 0) } ?? "-", 9)
            out += e.status.rawValue.replacingOccurrences(of: "_", with: " ") + "\n"
        }
        let rates = result.estimates.compactMap(\.heartRate)
        if rates.isEmpty {
            out += "no heart rate: \(result.estimates.isEmpty ? "video shorter than one window" : "no face or too little signal")\n"
        } else {
            out += "heart rate \(fixed(rates.reduce(0, +) / Double(rates.count), 1)) bpm on average, "
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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
    }

    static func fixed(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }
    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
}
