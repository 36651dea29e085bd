#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Streaming sample-rate conversion by a rational factor `L/M`: a polyphase windowed-sinc
/// (Kaiser, β = 8) low-pass at 0.45 of the lower of the two rates, 32 taps per phase when
/// upsampling and proportionally more when downsampling (96 from 48 to 16 kHz).
///
/// The stop band is about 80 dB down. The filter's delay is compensated: output sample `n`
/// lines up with input time `n·M/L`, and ``finish()`` flushes the last half filter. Not
/// thread-safe: one resampler per stream.
public struct Resampler: Sendable {
    /// Input rate in Hz.
    public let inputRate: Int
    /// Output rate in Hz.
    public let outputRate: Int

    private let up: Int, down: Int
    /// Phase `p`'s taps, reversed so that they line up with the input history in time order.
    private let phases: [[Float]]
    private let tapsPerPhase: Int
    private var history: [Float]
    /// Absolute input index of `history[0]`.
    private var historyStart = 0
    /// Position of the next output sample, in units of `1/up` input samples.
    private var nextPosition = 0

    /// A resampler from `inputRate` to `outputRate` (both positive).
    public init(inputRate: Int, outputRate: Int) {
        precondition(inputRate > 0 && outputRate > 0)
        self.inputRate = inputRate
        self.outputRate = outputRate
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let divisor = gcd(inputRate, outputRate)
        let up = outputRate / divisor, down = inputRate / divisor
        self.up = up
        self.down = down
        let taps = 32 * max(1, (down + up - 1) / up)
        tapsPerPhase = taps
        let length = taps * up
        // Cut-off as a fraction of the upsampled rate.
        let cutoff = 0.45 / Double(max(up, down))
        let beta = 8.0
        func besselI0(_ x: Double) -> Double {
            var sum = 1.0, term = 1.0, k = 1.0
            while term > 1e-12 * sum {
                term *= (x / (2 * k)) * (x / (2 * k))
                sum += term
                k += 1
            }
            return sum
        }
        let centre = Double(length - 1) / 2
        let prototype: [Double] = (0..<length).map { n in
            let t = Double(n) - centre
            let sinc = t == 0 ? 2 * cutoff : sin(2 * Double.pi * cutoff * t) / (Double.pi * t)
            let r = t / (centre + 1)
            return sinc * besselI0(beta * (1 - r * r).squareRoot()) / besselI0(beta) * Double(up)
        }
        phases = (0..<up).map { p in
            (0..<taps).reversed().map { k in Float(prototype[p + k * up]) }
        }
        history = [Float](repeating: 0, count: taps - 1)
        historyStart = -(taps - 1)
        // Start half the filter in, so output sample n lines up with input time n·M/L.
        nextPosition = length / 2
    }

    /// Consumes input samples; returns the output samples they complete.
    public mutating func process(_ input: [Float]) -> [Float] {
        history.append(contentsOf: input)
        var output: [Float] = []
        output.reserveCapacity(input.count * up / down + 1)
        let taps = tapsPerPhase
        let available = historyStart + history.count  // one past the newest input index
        history.withUnsafeBufferPointer { h in
            while true {
                let newest = nextPosition / up
                guard newest < available else { break }
                let phase = phases[nextPosition % up]
                let first = newest - (taps - 1) - historyStart
                var sum: Float = 0
                phase.withUnsafeBufferPointer { c in
                    for k in 0..<taps { sum += c[k] * h[first + k] }
                }
                output.append(sum)
                nextPosition += down
            }
        }
        let keepFrom = nextPosition / up - (taps - 1)
        if keepFrom > historyStart {
            history.removeFirst(min(keepFrom - historyStart, history.count))
            historyStart = keepFrom
        }
        return output
    }

    /// Ends the stream: returns the output still held in the filter (half a filter's worth).
    public mutating func finish() -> [Float] {
        process([Float](repeating: 0, count: tapsPerPhase / 2))
    }
}

/// Converts audio of any rate and channel count to the 16 kHz mono the voice engine reads:
/// channels averaged, then resampled (``Resampler``) unless already at 16 kHz.
public struct AudioConverter: Sendable {
    /// Interleaved channels of the input.
    public let channelCount: Int
    private var resampler: Resampler?

    /// Input rates the voice engine converts: telephone band to studio rates. Outside them the
    /// resampler's filter and output grow without bound (1 Hz in would mean 16 000 samples out
    /// for every sample in).
    public static let supportedInputRates: ClosedRange<Int> = 4_000...384_000
    /// The most interleaved channels accepted.
    public static let maximumChannels = 32

    /// A converter from `sampleRate` Hz, `channelCount` interleaved channels, to 16 kHz mono.
    ///
    /// - Throws: ``UnsupportedAudioFormat`` for a rate or channel count outside what the engine
    ///   reads, before anything is allocated for it.
    public init(sampleRate: Int, channelCount: Int, outputRate: Int = VoiceFeatures.sampleRate) throws(UnsupportedAudioFormat) {
        guard Self.supportedInputRates.contains(sampleRate) else {
            throw UnsupportedAudioFormat(
                description: "a sample rate of \(sampleRate) Hz is outside the \(Self.supportedInputRates.lowerBound)…\(Self.supportedInputRates.upperBound) Hz the voice engine reads")
        }
        guard (1...Self.maximumChannels).contains(channelCount) else {
            throw UnsupportedAudioFormat(description: "\(channelCount) channels is outside the 1…\(Self.maximumChannels) the voice engine reads")
        }
        self.channelCount = channelCount
        resampler = sampleRate == outputRate ? nil : Resampler(inputRate: sampleRate, outputRate: outputRate)
    }

    /// Converts interleaved samples (whole frames); returns the 16 kHz mono samples they complete.
    public mutating func process(interleaved samples: [Float]) -> [Float] {
        var mono: [Float]
        if channelCount == 1 {
            mono = samples
        } else {
            let frames = samples.count / channelCount
            mono = [Float](repeating: 0, count: frames)
            let scale = 1 / Float(channelCount)
            for f in 0..<frames {
                var sum: Float = 0
                for c in 0..<channelCount { sum += samples[f * channelCount + c] }
                mono[f] = sum * scale
            }
        }
        guard resampler != nil else { return mono }
        return resampler!.process(mono)
    }

    /// Ends the stream: returns what the resampler still holds.
    public mutating func finish() -> [Float] {
        guard resampler != nil else { return [] }
        return resampler!.finish()
    }
}

/// Audio the voice engine cannot read, and why.
public struct UnsupportedAudioFormat: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with it.
    public var description: String
}
