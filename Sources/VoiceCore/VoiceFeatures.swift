#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Turns 16 kHz mono audio, 10 ms at a time, into the features the voice activity model reads.
///
/// For each 10 ms hop, a 32 ms Hann window ending at the hop is transformed (``PowerSpectrum``)
/// and summed into ``bandCount`` mel bands between 100 and 7600 Hz. Each band's level (in
/// bels, log10 of power) is compared with a noise floor tracked as the minimum of the smoothed
/// level over the last 3.2 s (minimum statistics), which adapts to steady noise of any level
/// and follows it down at once and up within the window. The features are:
///
/// * `bandCount` levels above the floor (how far each band stands out of the noise);
/// * `bandCount` levels relative to the frame's mean level (the spectral shape, which does not
///   depend on how loud the speaker is);
/// * the mean level above the floor;
/// * the mean level against its average over the last seconds (τ = 2 s), which tells a voice
///   near the microphone from the steady murmur of distant talkers;
/// * the cepstral peak: how far the strongest peak of the cepstrum (the spectrum of the log
///   power spectrum) between quefrencies of 2 and 16 ms (pitch 62.5–500 Hz) stands above the
///   cepstrum's mean there, in bels. A voiced sound's harmonics make a strong peak at its pitch
///   period; clicks, steps, paper and the air of a fan have none. It does not depend on the noise
///   floor, so continuous speech in a reverberant room, which lifts the floor, still shows it.
///
/// Not thread-safe: one extractor per audio stream.
public struct VoiceFeatures: Sendable {
    /// The sample rate the features are defined at.
    public static let sampleRate = 16_000
    /// Samples per hop: 10 ms.
    public static let hopSize = 160
    /// Mel bands.
    public static let bandCount = 20
    /// Values per feature vector.
    public static let count = 2 * bandCount + 3

    static let windowSize = 512
    /// The floor is the minimum over ``floorBlocks`` blocks of ``floorBlockFrames`` frames (3.2 s):
    /// long enough to reach a pause between sentences of continuous speech in a live room.
    static let floorBlockFrames = 40
    static let floorBlocks = 8
    /// Quefrencies (samples) searched for the cepstral peak: 2 ms (500 Hz) to 16 ms (62.5 Hz).
    static let pitchQuefrencies = 32...256
    static let floorSmoothing: Float = 0.4
    /// Per-frame weight of the running average of the mean level (τ = 2 s).
    static let averageLevelRate: Float = 0.005
    /// Power added before the logarithm so digital silence has a finite level (-100 dB re full scale).
    static let powerFloor: Float = 1e-10 * Float(windowSize * windowSize) / 4

    private var samples: [Float]
    private var windowed: [Float]
    private let window: [Float]
    private var spectrum: PowerSpectrum
    private var power: [Float]
    private var cepstrumSpectrum: PowerSpectrum
    /// The log power spectrum, mirrored into a real even sequence of ``windowSize`` values.
    private var logPower: [Float]
    private var cepstrum: [Float]
    private let bands: [MelBand]
    private var smoothedLevel: [Float]
    /// The least smoothed level of each band in each of the last ``floorBlocks`` blocks
    /// (block-major, a ring; the current block at `currentBlock`).
    private var blockMinima: [Float]
    private var currentBlock = 0
    private var framesInBlock = 0
    private var averageLevel: Float = 0
    /// Hops consumed so far, counted up to ``hopsToFillWindow``.
    private var hopsSeen = 0
    /// Hops until the window holds only audio (no zeros from before the stream began).
    static let hopsToFillWindow = (windowSize + hopSize - 1) / hopSize
    /// Whether the window still holds zeros from before the stream: such a frame's level is
    /// low only because the stream just began, so the floor and the average level start
    /// afresh from each frame until the window is full (a stream's first frame must not look
    /// like a sound rising out of silence).
    private var isFillingWindow: Bool { hopsSeen < Self.hopsToFillWindow }

    /// One triangular band: weights for bins `firstBin..<firstBin + weights.count`.
    struct MelBand: Sendable {
        var firstBin: Int
        var weights: [Float]
    }

    /// An extractor at the start of a stream.
    public init() {
        let n = Self.windowSize
        samples = [Float](repeating: 0, count: n)
        windowed = [Float](repeating: 0, count: n)
        window = (0..<n).map { Float(0.5 - 0.5 * cos(2 * Double.pi * (Double($0) + 0.5) / Double(n))) }
        spectrum = PowerSpectrum(size: n)
        power = [Float](repeating: 0, count: n / 2 + 1)
        cepstrumSpectrum = PowerSpectrum(size: n)
        logPower = [Float](repeating: 0, count: n)
        cepstrum = [Float](repeating: 0, count: n / 2 + 1)
        bands = Self.melBands(count: Self.bandCount, lowHz: 100, highHz: 7600, size: n, sampleRate: Self.sampleRate)
        smoothedLevel = [Float](repeating: 0, count: Self.bandCount)
        blockMinima = [Float](repeating: .infinity, count: Self.floorBlocks * Self.bandCount)
    }

    /// Consumes one hop of ``hopSize`` samples and writes ``count`` features into `features`.
    public mutating func process(hop: UnsafeBufferPointer<Float>, into features: UnsafeMutableBufferPointer<Float>) {
        precondition(hop.count == Self.hopSize && features.count >= Self.count)
        let n = Self.windowSize, hopSize = Self.hopSize
        samples.withUnsafeMutableBufferPointer { s in
            let base = s.baseAddress!
            _ = memmove(base, base + hopSize, (n - hopSize) * MemoryLayout<Float>.stride)
            for i in 0..<hopSize { base[n - hopSize + i] = hop[i] }
        }
        // Window (SIMD8) and transform.
        samples.withUnsafeBufferPointer { s in
            window.withUnsafeBufferPointer { w in
                windowed.withUnsafeMutableBufferPointer { out in
                    let rs = UnsafeRawPointer(s.baseAddress!), rw = UnsafeRawPointer(w.baseAddress!)
                    let ro = UnsafeMutableRawPointer(out.baseAddress!)
                    for offset in stride(from: 0, to: n * 4, by: 32) {
                        let product = rs.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                            * rw.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                        ro.storeBytes(of: product, toByteOffset: offset, as: SIMD8<Float>.self)
                    }
                }
            }
        }
        windowed.withUnsafeBufferPointer { x in
            power.withUnsafeMutableBufferPointer { p in spectrum.compute(x.baseAddress!, into: p.baseAddress!) }
        }

        let bandCount = Self.bandCount
        var meanLevel: Float = 0
        power.withUnsafeBufferPointer { p in
            for b in 0..<bandCount {
                let band = bands[b]
                var energy: Float = Self.powerFloor
                band.weights.withUnsafeBufferPointer { w in
                    for i in 0..<w.count { energy += w[i] * p[band.firstBin + i] }
                }
                let level = log10f(energy)
                features[b] = level  // provisional: the level itself
                meanLevel += level
            }
        }
        meanLevel /= Float(bandCount)
        if isFillingWindow { averageLevel = meanLevel }
        updateFloor(levels: features)
        hopsSeen = min(hopsSeen + 1, Self.hopsToFillWindow)

        var meanAboveFloor: Float = 0
        for b in 0..<bandCount {
            let level = features[b]
            let floor = currentFloor(band: b)
            features[b] = level - floor
            features[bandCount + b] = level - meanLevel
            meanAboveFloor += level - floor
        }
        features[2 * bandCount] = meanAboveFloor / Float(bandCount)
        averageLevel += Self.averageLevelRate * (meanLevel - averageLevel)
        features[2 * bandCount + 1] = meanLevel - averageLevel
        features[2 * bandCount + 2] = cepstralPeak()
    }

    /// The cepstral peak of the current frame's power spectrum (see the type's documentation).
    private mutating func cepstralPeak() -> Float {
        let n = Self.windowSize, half = n / 2
        power.withUnsafeBufferPointer { p in
            logPower.withUnsafeMutableBufferPointer { l in
                for k in 0...half { l[k] = log2f(p[k] + Self.powerFloor) }
                for k in 1..<half { l[n - k] = l[k] }
            }
        }
        logPower.withUnsafeBufferPointer { l in
            cepstrum.withUnsafeMutableBufferPointer { c in cepstrumSpectrum.compute(l.baseAddress!, into: c.baseAddress!) }
        }
        var peak: Float = 0, sum: Float = 0
        for q in Self.pitchQuefrencies {
            peak = max(peak, cepstrum[q])
            sum += cepstrum[q]
        }
        let mean = sum / Float(Self.pitchQuefrencies.count)
        // Squared magnitudes: half the log is the magnitude ratio. The constant keeps digital
        // silence (a flat spectrum, no cepstrum) at zero.
        return 0.5 * log10f((peak + 1) / (mean + 1))
    }

    private mutating func updateFloor(levels: UnsafeMutableBufferPointer<Float>) {
        let bands = Self.bandCount
        for b in 0..<bands {
            if isFillingWindow {
                smoothedLevel[b] = levels[b]
                blockMinima[currentBlock * bands + b] = levels[b]
            } else {
                smoothedLevel[b] += Self.floorSmoothing * (levels[b] - smoothedLevel[b])
                blockMinima[currentBlock * bands + b] = min(blockMinima[currentBlock * bands + b], smoothedLevel[b])
            }
        }
        framesInBlock += 1
        if framesInBlock == Self.floorBlockFrames {
            // The oldest block gives way to a new one, which starts from the current level.
            currentBlock = (currentBlock + 1) % Self.floorBlocks
            for b in 0..<bands { blockMinima[currentBlock * bands + b] = smoothedLevel[b] }
            framesInBlock = 0
        }
    }

    /// The noise floor of band `b`: the least smoothed level over the current and past blocks.
    private func currentFloor(band b: Int) -> Float {
        var floor = Float.infinity
        for block in 0..<Self.floorBlocks { floor = min(floor, blockMinima[block * Self.bandCount + b]) }
        return floor
    }

    static func melBands(count: Int, lowHz: Double, highHz: Double, size: Int, sampleRate: Int) -> [MelBand] {
        func mel(_ hz: Double) -> Double { 2595 * log10(1 + hz / 700) }
        func hz(_ mel: Double) -> Double { 700 * (pow(10, mel / 2595) - 1) }
        let edges = (0...(count + 1)).map { hz(mel(lowHz) + (mel(highHz) - mel(lowHz)) * Double($0) / Double(count + 1)) }
        let binHz = Double(sampleRate) / Double(size)
        return (0..<count).map { b in
            let low = edges[b], centre = edges[b + 1], high = edges[b + 2]
            let first = Int((low / binHz).rounded(.up)), last = Int((high / binHz).rounded(.down))
            var weights: [Float] = []
            for bin in first...max(first, last) {
                let f = Double(bin) * binHz
                let w = f <= centre ? (f - low) / (centre - low) : (high - f) / (high - centre)
                weights.append(Float(max(0, w)))
            }
            return MelBand(firstBin: first, weights: weights)
        }
    }
}
