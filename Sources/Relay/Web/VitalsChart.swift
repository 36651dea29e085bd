import Foundation
import HHProtocol

/// How far to trust a heart-rate estimate, from its signal-to-noise ratio (the scale the
/// kiosk's spoken answers use too).
public enum ReadingQuality: String, Sendable, Hashable {
    case clear, fair, weak

    /// The quality of an estimate with this SNR (none: weak).
    public init(snrDb: Double?) {
        switch snrDb ?? -.infinity {
        case 6...: self = .clear
        case 3..<6: self = .fair
        default: self = .weak
        }
    }
}

/// A time series drawn on the server as an SVG line chart: gaps where there was no estimate,
/// weak stretches drawn apart (dashed, pale, on a shaded band), the median as a labelled rule.
public struct VitalsChart: Sendable {
    /// One point: seconds from the start, the value (nil: no estimate) and whether it is weak.
    public struct Point: Sendable, Hashable {
        public var t: Double
        public var value: Double?
        public var weak: Bool

        /// A point.
        public init(t: Double, value: Double?, weak: Bool) {
            self.t = t
            self.value = value
            self.weak = weak
        }
    }

    public var title: String
    public var unit: String
    public var points: [Point]
    public var median: Double?
    /// The longest time between two estimates still joined by a line, seconds: a longer one
    /// is a gap (the series' resolution, with room for jitter).
    public var longestJoin: Double
    public var width = 720.0
    public var height = 240.0

    /// A chart.
    public init(title: String, unit: String, points: [Point], median: Double?, longestJoin: Double = 1.5) {
        self.title = title
        self.unit = unit
        self.points = points
        self.median = median
        self.longestJoin = longestJoin
    }

    /// The heart rate of a session document.
    public static func heartRate(_ document: SessionDocument) -> VitalsChart {
        VitalsChart(
            title: "Heart rate", unit: "beats per minute",
            points: document.heartRate.map { Point(t: $0.t, value: $0.bpm, weak: $0.bpm != nil && ReadingQuality(snrDb: $0.snrDb) == .weak) },
            median: document.summary.heartRateMedianBpm)
    }

    /// The respiration of a session document, or nil when it has none.
    public static func respiration(_ document: SessionDocument) -> VitalsChart? {
        guard document.heartRate.contains(where: { $0.respirationBpm != nil }) else { return nil }
        return VitalsChart(
            title: "Respiration", unit: "breaths per minute",
            points: document.heartRate.map { Point(t: $0.t, value: $0.respirationBpm, weak: false) },
            median: document.summary.respirationMedianBpm, longestJoin: 15)
    }

    /// Runs of estimates no more than ``longestJoin`` apart with the same quality: each is one
    /// polyline. Where the quality changes the new run starts at the last point of the old, so
    /// the line is unbroken; where estimates are further apart there is a gap.
    func runs() -> [(weak: Bool, points: [Point])] {
        var runs: [(weak: Bool, points: [Point])] = []
        var previous: Point?
        for point in points where point.value != nil {
            if let last = previous, point.t - last.t <= longestJoin {
                if last.weak == point.weak {
                    runs[runs.count - 1].points.append(point)
                } else {
                    runs.append((point.weak, [last, point]))
                }
            } else {
                runs.append((point.weak, [point]))
            }
            previous = point
        }
        return runs
    }

    /// The chart as an inline SVG element with a text alternative.
    public func svg() -> HTML {
        let values = points.compactMap(\.value)
        guard let low = values.min(), let high = values.max(), let first = points.first?.t, let last = points.last?.t else {
            return "<p class=\"empty\">No \(title.lowercased()) was estimated in this visit.</p>"
        }
        let left = 48.0, right = 12.0, top = 12.0, bottom = 28.0
        let floor = (min(low, median ?? low) - 5).rounded(.down), ceiling = (max(high, median ?? high) + 5).rounded(.up)
        let span = max(last - first, 1)
        func x(_ t: Double) -> Double { left + (t - first) / span * (width - left - right) }
        func y(_ v: Double) -> Double { top + (ceiling - v) / (ceiling - floor) * (height - top - bottom) }
        func format(_ v: Double) -> String { String(format: "%.1f", v) }

        var parts: [HTML] = []
        // Horizontal grid with labels.
        let step = Self.niceStep((ceiling - floor) / 4)
        var tick = (floor / step).rounded(.up) * step
        while tick <= ceiling {
            parts.append("<line class=\"grid\" x1=\"\(format(left))\" x2=\"\(format(width - right))\" y1=\"\(format(y(tick)))\" y2=\"\(format(y(tick)))\"/>")
            parts.append("<text class=\"axis\" x=\"\(format(left - 6))\" y=\"\(format(y(tick) + 4))\" text-anchor=\"end\">\(Int(tick))</text>")
            tick += step
        }
        // Time axis in minutes:seconds.
        let timeStep = [15.0, 30, 60, 120, 300, 600, 900, 1800, 3600].first { $0 >= span / 7 } ?? 7200
        var second = (first / timeStep).rounded(.up) * timeStep
        while second <= last {
            let label = String(format: "%d:%02d", Int(second) / 60, Int(second) % 60)
            parts.append("<text class=\"axis\" x=\"\(format(x(second)))\" y=\"\(format(height - 8))\" text-anchor=\"middle\">\(label)</text>")
            second += timeStep
        }
        // Weak stretches: a shaded band behind them.
        for run in runs() where run.weak {
            let start = x(run.points.first!.t), end = x(run.points.last!.t)
            parts.append("<rect class=\"weak-band\" x=\"\(format(start))\" y=\"\(format(top))\" width=\"\(format(max(end - start, 2)))\" height=\"\(format(height - top - bottom))\"/>")
        }
        for run in runs() {
            let coordinates = run.points.map { "\(format(x($0.t))),\(format(y($0.value!)))" }.joined(separator: " ")
            if run.points.count == 1 {
                let point = run.points[0]
                parts.append("<circle class=\"\(run.weak ? "weak" : "line")-dot\" cx=\"\(format(x(point.t)))\" cy=\"\(format(y(point.value!)))\" r=\"2.5\"/>")
            } else {
                parts.append("<polyline class=\"\(run.weak ? "weak" : "line")\" points=\"\(coordinates)\"/>")
            }
        }
        if let median {
            parts.append("<line class=\"median\" x1=\"\(format(left))\" x2=\"\(format(width - right))\" y1=\"\(format(y(median)))\" y2=\"\(format(y(median)))\"/>")
            parts.append("<text class=\"median-label\" x=\"\(format(width - right - 4))\" y=\"\(format(y(median) - 5))\" text-anchor=\"end\">median \(format(median))</text>")
        }
        let estimated = values.count, weak = points.filter { $0.value != nil && $0.weak }.count
        let summary = "\(title) over \(Int(span)) s: \(estimated) estimates from \(format(low)) to \(format(high)) \(unit)"
            + (median.map { ", median \(format($0))" } ?? "") + (weak > 0 ? ", \(weak) of them weak" : "") + "."
        return """
            <figure class="chart"><svg viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(summary)" preserveAspectRatio="xMidYMid meet">\
            \(parts)</svg><figcaption>\(summary)</figcaption></figure>
            """
    }

    /// 1, 2 or 5 times a power of ten, at least `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough > 0 else { return 1 }
        let power = pow(10, (log10(rough)).rounded(.down))
        for factor in [1.0, 2, 5, 10] where factor * power >= rough { return factor * power }
        return 10 * power
    }
}
