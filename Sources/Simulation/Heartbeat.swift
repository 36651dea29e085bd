#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The simulated heart: beat times with beat-to-beat variation and respiratory sinus arrhythmia,
/// and the blood-volume waveform they produce.
public struct Heartbeat: Sendable {
    /// Times of the systolic onsets, in seconds.
    public let beatTimes: [Double]
    /// Each beat's nominal length (from the heart rate at its onset, without the beat-to-beat
    /// variation): the time scale of its waveform. A real pulse wave's shape follows from the
    /// beat that made it, not from when the next one will come.
    let waveformScales: [Double]
    let breathingRate: Double?

    /// Draws the beats for `scenario` (deterministic for its seed).
    public init(scenario: Scenario) {
        var random = RandomSource(seed: scenario.seed &* 0x9E37_79B9 &+ 17)
        var beats: [Double] = []
        var scales: [Double] = []
        var t = -random.uniform() * 0.8
        let sigma = scenario.beatVariability / 1000
        while t < scenario.duration + 2 {
            beats.append(t)
            let bpm = scenario.heartRate.bpm(at: max(0, t))
            scales.append(60 / bpm)
            var interval = 60 / bpm
            if let breathing = scenario.breathingRate {
                // Respiratory sinus arrhythmia: the heart speeds up on inspiration (±3%).
                interval *= 1 - 0.03 * sin(2 * Double.pi * breathing / 60 * t)
            }
            // Variability shrinks as the heart speeds up: scale with the interval, relative to 72 bpm.
            interval += sigma * (interval / (60.0 / 72)) * random.gaussian()
            t += max(0.2, interval)
        }
        beatTimes = beats
        waveformScales = scales
        breathingRate = scenario.breathingRate
    }

    /// Relative blood volume at `t`: the pulse wave (about −0.5…0.5) plus the slow swell of
    /// breathing (±0.25).
    public func bloodVolume(at t: Double) -> Double {
        var pulse = 0.0
        // Binary search for the beat that started last.
        var lo = 0, hi = beatTimes.count - 1
        if t >= beatTimes[0] {
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if beatTimes[mid] <= t { lo = mid } else { hi = mid - 1 }
            }
            if lo + 1 < beatTimes.count {
                pulse = Self.waveform((t - beatTimes[lo]) / waveformScales[lo])
            }
        }
        let breath = breathingRate.map { 0.25 * sin(2 * Double.pi * $0 / 60 * t) } ?? 0
        return pulse + breath
    }

    /// One beat of a photoplethysmogram: a steep systolic rise, a peak near 20% of the beat,
    /// a dicrotic wave near 50%; roughly zero mean over a beat.
    static func waveform(_ phase: Double) -> Double {
        func bump(_ centre: Double, _ width: Double) -> Double {
            let z = (phase - centre) / width
            return exp(-0.5 * z * z)
        }
        return bump(0.2, 0.09) + 0.45 * bump(0.5, 0.12) - 0.32
    }

    /// Heart-rate variability of the beats between `start` and `end` seconds: (RMSSD, SDNN) in ms.
    public func variability(from start: Double, to end: Double) -> (rmssd: Double, sdnn: Double) {
        let beats = beatTimes.filter { $0 >= start && $0 <= end }
        let intervals = zip(beats.dropFirst(), beats).map { ($0 - $1) * 1000 }
        guard intervals.count > 2 else { return (0, 0) }
        let diffs = zip(intervals.dropFirst(), intervals).map { $0 - $1 }
        let rmssd = (diffs.map { $0 * $0 }.reduce(0, +) / Double(diffs.count)).squareRoot()
        let mean = intervals.reduce(0, +) / Double(intervals.count)
        let sdnn = (intervals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(intervals.count - 1)).squareRoot()
        return (rmssd, sdnn)
    }
}
