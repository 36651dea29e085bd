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

    /// Beat times refined by matching every beat against the window's average beat.
    ///
    /// A single sample at the crest times a beat only as well as that sample's noise allows;
    /// the whole waveform of a beat (its rise, crest and fall) times it far better. The average
    /// of the beats around `coarse` is the template; each beat is then placed where the template
    /// fits it best (cross-correlation on a grid of a quarter sample, refined by a parabola),
    /// and the template is rebuilt from the refined times once more. Returns the times and each
    /// beat's correlation coefficient with the template (how beat-like it is).
    static func matchedBeatTimes(in pulse: [Double], sampleRate: Double, coarse: [Double], heartRate: Double)
        -> (times: [Double], correlations: [Double])
    {
        let interval = 1 / heartRate
        let span = Int((0.5 * interval * sampleRate).rounded(.down))
        guard span >= 2, coarse.count >= 3 else { return (coarse, coarse.map { _ in 0 }) }
        let offsets = (-span...span).map { Double($0) / sampleRate }
        /// The pulse at `t` seconds, interpolated by a cubic (Catmull-Rom) through the four
        /// nearest samples: a straight line between two samples would bend every beat's shape
        /// by where it falls between samples, and so its time. `nil` outside the signal.
        func value(_ t: Double) -> Double? {
            let x = t * sampleRate
            let i = Int(x.rounded(.down))
            guard i >= 1, i + 2 < pulse.count else { return nil }
            let f = x - Double(i)
            let (p0, p1, p2, p3) = (pulse[i - 1], pulse[i], pulse[i + 1], pulse[i + 2])
            return p1 + 0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)))
        }
        func segment(at t: Double) -> [Double]? {
            var values: [Double] = []
            values.reserveCapacity(offsets.count)
            for offset in offsets {
                guard let v = value(t + offset) else { return nil }
                values.append(v)
            }
            return values
        }
        func template(_ times: [Double]) -> [Double]? {
            var sum = [Double](repeating: 0, count: offsets.count)
            var count = 0
            for t in times {
                guard let values = segment(at: t) else { continue }
                for k in sum.indices { sum[k] += values[k] }
                count += 1
            }
            guard count >= 3 else { return nil }
            let mean = sum.reduce(0, +) / Double(sum.count)
            return sum.map { $0 / Double(count) - mean }
        }
        var times = coarse
        var correlations = coarse.map { _ in 0.0 }
        let reach = 0.2 * interval
        let step = 0.25 / sampleRate
        let steps = Int((reach / step).rounded(.up))
        for _ in 0..<2 {
            guard let shape = template(times) else { break }
            let shapeNorm = shape.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard shapeNorm > 0 else { break }
            var refined: [Double] = []
            var scores: [Double] = []
            for t in times {
                var best = -Double.infinity, bestIndex = 0
                var values = [Double](repeating: -Double.infinity, count: 2 * steps + 1)
                var bestCorrelation = 0.0
                for index in 0...(2 * steps) {
                    guard let window = segment(at: t + Double(index - steps) * step) else { continue }
                    let mean = window.reduce(0, +) / Double(window.count)
                    var dot = 0.0, norm = 0.0
                    for k in window.indices {
                        let w = window[k] - mean
                        dot += w * shape[k]
                        norm += w * w
                    }
                    values[index] = dot
                    if dot > best {
                        best = dot
                        bestIndex = index
                        bestCorrelation = norm > 0 ? dot / (norm.squareRoot() * shapeNorm) : 0
                    }
                }
                guard best > -Double.infinity else { continue }
                var offset = 0.0
                if bestIndex > 0, bestIndex < 2 * steps, values[bestIndex - 1].isFinite, values[bestIndex + 1].isFinite {
                    let (a, b, c) = (values[bestIndex - 1], values[bestIndex], values[bestIndex + 1])
                    let denominator = a - 2 * b + c
                    if denominator < 0 { offset = max(-0.5, min(0.5, 0.5 * (a - c) / denominator)) }
                }
                refined.append(t + (Double(bestIndex - steps) + offset) * step)
                scores.append(bestCorrelation)
            }
            times = refined
            correlations = scores
        }
        return (times, correlations)
    }

    /// RMSSD and SDNN from beat times, corrected for the noise in the times, or `nil` when
    /// there are too few beats, too many implausible intervals (more than 30% off the median:
    /// a missed or extra beat), or when noise would explain more than `maximumNoiseShare` of
    /// the measured RMSSD².
    ///
    /// Noise that moves each beat time by σ (`timingVariance` = σ²) adds 6σ² to the mean
    /// squared successive difference and 2σ² to the intervals' variance; both are taken off.
    static func variability(
        beatTimes: [Double], timingVariance: Double, minimumBeats: Int, minimumAcceptance: Double, maximumNoiseShare: Double
    ) -> HeartRateVariability? {
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
        let successive = squares / Double(pairs)
        guard 6 * timingVariance <= maximumNoiseShare * successive else { return nil }
        let sdnn = Stats.standardDeviation(zip(intervals, accepted).filter(\.1).map(\.0))
        return HeartRateVariability(
            rmssd: (successive - 6 * timingVariance).squareRoot() * 1000,
            sdnn: max(0, sdnn * sdnn - 2 * timingVariance).squareRoot() * 1000,
            beats: acceptedCount + 1
        )
    }
}
