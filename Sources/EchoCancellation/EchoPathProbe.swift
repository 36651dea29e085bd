#if canImport(Glibc)
import Glibc
#endif

/// What `hhctl speaker-test` learns of the echo path: a probe played through the speaker and
/// heard back by the microphone, the two lined up by the devices' own time stamps.
public struct EchoPathMeasurement: Sendable, Hashable {
    /// How much later than the stamps say the probe's echo arrived (the room, and converter
    /// latency the devices do not report), milliseconds; `nil` when no echo was heard.
    public var delayMilliseconds: Double?
    /// How much quieter the echo is than what was played, dB (echo return loss, ERL).
    public var returnLossDb: Double?
    /// How much of the echo the canceller takes out once it has learned the path, dB (ERLE).
    public var cancellationDb: Double?
    /// How alike the best-aligned echo is to the probe, 0–1.
    public var correlation: Double
}

/// Plays nothing itself: makes the probe, and measures the echo path from what was played and
/// what was heard (a pure core; `hhctl speaker-test` runs the devices).
public enum EchoPathProbe {
    /// Latest arrival looked for, after the stamps' prediction (the canceller's tail is 300 ms
    /// by default; beyond 500 ms no canceller here could follow).
    public static let maximumDelay = 8_000
    /// Earliest arrival looked for, before the stamps' prediction (stamps a little late).
    public static let maximumLead = 800
    /// Correlation under which nothing is taken for the probe's echo.
    public static let heardCorrelation = 0.3

    /// The probe: a logarithmic sweep over the speech band (200 Hz to 4 kHz), repeated each
    /// half second, at -20 dBFS RMS; `seconds` long at 16 kHz.
    public static func probe(seconds: Double, sampleRate: Int = 16_000) -> [Int16] {
        let sweep = Int(0.5 * Double(sampleRate))
        let (low, high) = (200.0, 4_000.0)
        let rate = log(high / low)
        let amplitude = 0.1 * 2.0.squareRoot() * 32_767
        return (0..<Int(seconds * Double(sampleRate))).map { index in
            let t = Double(index % sweep) / Double(sampleRate), length = Double(sweep) / Double(sampleRate)
            let phase = 2 * Double.pi * low * length / rate * (exp(t / length * rate) - 1)
            return Int16((amplitude * sin(phase)).rounded())
        }
    }

    /// The echo path, from `played` (what the speaker played, its first sample heard at timeline
    /// sample 0 by the stamps) and `heard` (what the microphone captured, its first sample at
    /// timeline sample `heardFrom`, which may be negative: captured before the probe).
    public static func measure(played: [Int16], heard: [Int16], heardFrom: Int) -> EchoPathMeasurement {
        let probe = played.map(Double.init), microphone = heard.map(Double.init)
        let probeEnergy = probe.reduce(0) { $0 + $1 * $1 }
        // The lag (in timeline samples after the stamps' prediction) where the echo matches best.
        var best = (lag: 0, score: 0.0)
        for lag in -maximumLead...maximumDelay {
            let offset = lag - heardFrom  // heard index of probe sample 0
            let first = max(0, -offset), last = min(probe.count, microphone.count - offset)
            guard last - first > probe.count / 2 else { continue }
            var product = 0.0, energy = 0.0
            for index in first..<last {
                let sample = microphone[index + offset]
                product += probe[index] * sample
                energy += sample * sample
            }
            guard energy > 0 else { continue }
            let score = abs(product) / (probeEnergy * energy).squareRoot()
            if score > best.score { best = (lag, score) }
        }
        guard best.score >= heardCorrelation else {
            return EchoPathMeasurement(correlation: best.score)
        }
        // The echo's level over the probe's span, and what the canceller leaves of it.
        let offset = best.lag - heardFrom
        let span = max(0, -offset)..<min(probe.count, microphone.count - offset)
        let echoEnergy = span.reduce(0.0) { $0 + microphone[$1 + offset] * microphone[$1 + offset] }
        let returnLoss = 10 * log10(probeEnergy / max(echoEnergy, 1))
        // The canceller as hhd runs it, the reference leading its echo by 10 ms; it hears the
        // probe twice and the second time is measured: hhd's canceller keeps what it learned
        // from one reply to the next.
        let canceller = SpeexEchoCanceller(tailMilliseconds: 300)
        var meter = EchoReturnLossMeter()
        let frame = canceller.frameSize
        let lead = 160
        for pass in 0..<2 {
            meter.reset()
            var start = span.lowerBound
            while start + lead + frame <= span.upperBound {
                let reference = Array(played[start + lead..<start + lead + frame])
                let microphoneFrame = (start..<start + frame).map { heard[$0 + offset] }
                let output = canceller.process(microphone: microphoneFrame, reference: reference)
                if pass == 1 { meter.add(microphone: microphoneFrame, output: output, reference: reference) }
                start += frame
            }
        }
        return EchoPathMeasurement(
            delayMilliseconds: Double(best.lag) / 16, returnLossDb: returnLoss, cancellationDb: meter.erle, correlation: best.score)
    }
}
