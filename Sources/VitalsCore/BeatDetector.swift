/// Finds individual heartbeats in a pulse signal and derives heart-rate variability.
enum BeatDetector {
    /// Times (seconds from the signal's start) of the pulse's peaks, refined between samples.
    ///
    /// A peak is the highest sample within ±35% of the expected beat interval (from
    /// `heartRate`, Hz), so the dicrotic notch and noise wiggles do not count as beats.
    static func beatTimes(in pulse: [Double], sampleRate: Double, heartRate: Double) -> [Double] {
        let reach = max(1, Int(0.35 * sampleRate / heartRate))
        var beats: [Double] = []
        guard pulse.count > 2 * reach + 2 else { return beats }
        for i in reach..<(pulse.count - reach) {
            let v = pulse[i]
            var isPeak = v > 0
            var j = i - reach
            while isPeak && j <= i + reach {
                if j != i && (pulse[j] > v || (pulse[j] == v && j < i)) { isPeak = false }
                j += 1
            }
            guard isPeak else { continue }
            let (a, b, c) = (pulse[i - 1], v, pulse[i + 1])
            let denominator = a - 2 * b + c
            let offset = denominator < 0 ? max(-0.5, min(0.5, 0.5 * (a - c) / denominator)) : 0
            beats.append((Double(i) + offset) / sampleRate)
        }
        return beats
    }

    /// RMSSD and SDNN from beat times, or `nil` when too few beats or too many implausible
    /// intervals (more than 30% off the median: a missed or extra beat).
    static func variability(beatTimes: [Double], minimumBeats: Int, minimumAcceptance: Double) -> HeartRateVariability? {
        guard beatTimes.count >= minimumBeats else { return nil }
        let intervals = zip(beatTimes.dropFirst(), beatTimes).map { $0 - $1 }
        let median = Stats.median(intervals)
        let accepted = intervals.map { abs($0 - median) <= 0.3 * median }
        let acceptedCount = accepted.filter { $0 }.count
        guard Double(acceptedCount) >= minimumAcceptance * Double(intervals.count), acceptedCount >= minimumBeats - 1 else {
            return nil
        }
        var squares = 0.0, pairs = 0
        for i in 1..<intervals.count where accepted[i] && accepted[i - 1] {
            let d = intervals[i] - intervals[i - 1]
            squares += d * d
            pairs += 1
        }
        guard pairs > 0 else { return nil }
        let kept = zip(intervals, accepted).filter(\.1).map(\.0)
        return HeartRateVariability(
            rmssd: (squares / Double(pairs)).squareRoot() * 1000,
            sdnn: Stats.standardDeviation(kept) * 1000,
            beats: acceptedCount + 1
        )
    }
}
