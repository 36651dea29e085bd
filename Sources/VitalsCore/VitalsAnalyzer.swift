/// Turns a stream of face-region colours into heart-rate estimates once a second.
///
/// Feed it one ``RegionSample`` per frame with the frame's time (``add(_:at:)``). Whenever the
/// stream passes the end of the next window, it analyses the window and returns an estimate
/// timed at the window's centre; ``finish()`` closes the last window at the end of a stream.
///
/// Each window's colour traces are resampled onto a uniform grid (so dropped frames and
/// jittery timestamps do not bend the spectrum), the pulse is extracted with the configured
/// ``PulseMethod`` (over the long window, by default, with PBV on the window's band-limited
/// covariance), and the strongest spectral peak in the heart-rate band gives the rate; its SNR
/// decides whether the estimate is released (see ``VitalsConfiguration`` for the gates: the
/// window's own, PBV's on the same window after POS, the long window's, the lengthened
/// windows', and tracking's). Respiration and heart-rate variability are computed over longer
/// windows ending with the heart-rate window, each behind its own gate.
///
/// Not thread-safe: a value type owned by one task.
public struct VitalsAnalyzer: Sendable {
    /// The settings in force.
    public let configuration: VitalsConfiguration

    private var times: [Double] = []
    private var colours: [SIMD3<Double>] = []
    /// The colours of the region's two chessboard halves (see ``RegionSample``).
    private var whiteColours: [SIMD3<Double>] = [], blackColours: [SIMD3<Double>] = []
    /// The scene's brightness around the face, in all three lanes (so it resamples like a colour).
    private var backgrounds: [SIMD3<Double>] = []
    /// The region's skin pixel count, in all three lanes (so it resamples like a colour).
    private var skinCounts: [SIMD3<Double>] = []
    private var present: [Bool] = []
    private var nextWindowEnd: Double?
    /// The rate being followed, in Hz, and the centre time of the last window that passed a gate
    /// (not a tracked one): tracking lapses `trackingSeconds` after it, however many tracked
    /// reports came since.
    private var followed: (gatedTime: Double, frequency: Double)?
    private let retainedSeconds: Double

    /// An analyzer with the given settings.
    ///
    /// - Throws: ``ConfigurationError`` when the settings are inconsistent.
    public init(configuration: VitalsConfiguration = VitalsConfiguration()) throws(ConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        retainedSeconds =
            max(
                configuration.windowSeconds, configuration.longWindowSeconds,
                configuration.longWindowSeconds > 0 ? configuration.lengthenedWindows.map { $0.seconds }.max() ?? 0 : 0,
                configuration.respirationWindowSeconds,
                configuration.variabilityWindowSeconds) + 2
    }

    /// Adds one frame's region sample; returns the estimates whose windows this frame completed.
    ///
    /// Samples must come in time order; one earlier than the previous is ignored.
    public mutating func add(_ sample: RegionSample, at time: Double) -> [VitalsEstimate] {
        if let last = times.last, time <= last { return [] }
        var estimates: [VitalsEstimate] = []
        if nextWindowEnd == nil { nextWindowEnd = time + configuration.windowSeconds }
        while let end = nextWindowEnd, time >= end {
            estimates.append(estimate(windowEnd: end))
            nextWindowEnd = end + configuration.updateInterval
        }
        times.append(time)
        colours.append(sample.meanRGB)
        whiteColours.append(sample.whiteCellsRGB)
        blackColours.append(sample.blackCellsRGB)
        backgrounds.append(SIMD3(repeating: sample.backgroundLuma))
        skinCounts.append(SIMD3(repeating: Double(sample.skinPixels)))
        present.append(sample.facePresent)
        if let first = times.first, time - first > retainedSeconds + 10 {
            let drop = times.firstIndex { time - $0 <= retainedSeconds } ?? 0
            times.removeFirst(drop)
            colours.removeFirst(drop)
            whiteColours.removeFirst(drop)
            blackColours.removeFirst(drop)
            backgrounds.removeFirst(drop)
            skinCounts.removeFirst(drop)
            present.removeFirst(drop)
        }
        return estimates
    }

    /// Closes the window that ends with the stream, if the stream reached it within a frame.
    public mutating func finish() -> [VitalsEstimate] {
        guard let end = nextWindowEnd, let last = times.last,
            last + 1.5 / configuration.sampleRate >= end
        else { return [] }
        nextWindowEnd = end + configuration.updateInterval
        return [estimate(windowEnd: end)]
    }

    // MARK: - Analysis

    private mutating func estimate(windowEnd end: Double) -> VitalsEstimate {
        let c = configuration
        let centre = end - c.windowSeconds / 2
        let scene = sceneTrace(endingAt: end, seconds: c.windowSeconds)
        guard let colours = faceColours(endingAt: end, seconds: c.windowSeconds, scene: c.cancelsSceneChanges ? scene : nil) else {
            followed = nil
            return VitalsEstimate(time: centre, status: .noFace)
        }
        let band = heartRateBand
        let reference = flickerReference(scene: scene, face: colours.maskFitted)
        // Where the scene shows no lamp, its changes (the camera's) are fitted out of the colours
        // too; under a lamp the lamp's own rules hold (``VitalsConfiguration/cancelsSceneChanges``).
        var trace = colours.maskFitted
        var sceneIsFitted = false
        if let reference, reference.lampFrequency == nil, let fitted = colours.sceneFitted() { (trace, sceneIsFitted) = (fitted, true) }
        // The scene's changes once fitted out of the colours are not cancelled from the pulse again.
        let lamp = reference.map { FlickerCanceller(reading: $0, withoutLamp: c.cancelsCameraChanges && !sceneIsFitted) }
        // Under a flickering lamp POS alone often keeps too little of the pulse once the lamp is
        // cancelled; CHROM's fixed colour axes hold it (see ``PulseMethod/underALamp``).
        let method = lamp?.lampFrequency != nil ? c.method.underALamp : c.method
        guard let pulse = Self.pulse(trace, method: method, sampleRate: c.sampleRate, band: band, lamp: lamp) else {
            followed = nil
            return VitalsEstimate(time: centre, status: .lowQuality)
        }
        var found = pulse.peak
        var passes = !pulse.refused && found.snr >= c.minimumSNR
        var gated = true
        // Where POS's fixed projections lose a pulse that the brightness kept (compressed video),
        // PBV's mix may hold it (``VitalsConfiguration/triesPBVAfterPOS``), if green leads the
        // colours' change at its peak as blood's does.
        if !passes, c.triesPBVAfterPOS, method == .pos,
            let mixed = Self.pulse(trace, method: .pbv, sampleRate: c.sampleRate, band: band, lamp: lamp), !mixed.refused,
            mixed.peak.snr >= c.minimumSNR, BloodSignature.greenLeads(trace, frequency: mixed.peak.frequency, sampleRate: c.sampleRate)
        {
            found = mixed.peak
            passes = true
        }
        if !passes {
            // Too weak in one window: look again over the longer window, its spectrum averaged
            // over half-overlapping segments (Welch), which steadies the noise floor so a steady
            // pulse stands out from it (see ``longWindowPeak(endingAt:seconds:band:)`` for its
            // pulse and checks), then over the lengthened windows, each behind a lower gate.
            // Failing those, a peak that continues a rate found behind a gate moments ago is taken
            // at a lower gate if the colour change at the peak is blood's (``BloodSignature``).
            if let long = longerWindowPeak(endingAt: end, band: band) {
                found = long
            } else if !pulse.refused, continuesFollowedRate(pulse.peak, at: centre, trace: trace) {
                found = pulse.peak
                gated = false
            } else {
                return VitalsEstimate(time: centre, status: .lowQuality, snr: pulse.peak.snr)
            }
        }
        followed = (gated ? centre : followed?.gatedTime ?? centre, found.frequency)
        return VitalsEstimate(
            time: centre,
            status: .ok,
            heartRate: found.frequency * 60,
            snr: found.snr,
            respirationRate: respirationRate(windowEnd: end),
            variability: variability(windowEnd: end, band: band)
        )
    }

    /// The pulse signal of a trace and its strongest peak in `band` (Hz).
    ///
    /// When the strongest peak is the lamp's flicker (or its harmonic), seen by `lamp` (made from
    /// the scene's brightness around the face or the face's own, same grid), the flicker is cancelled and the peak
    /// looked for again (one that cancels unconditionally has cancelled the scene's brightness
    /// from the start); what stays at the lamp's rate after that is a heart beating at it,
    /// except over segments (the long window's lower gate), where it is not taken. A peak on one
    /// of the lamp's higher harmonics has the harmonics up to it fitted out too, and is `refused`
    /// (it clears no gate) if it stays there, or near one without green leading the colours'
    /// change (over one segment only). ``PulseMethod/auto`` tries POS and CHROM and keeps the one
    /// whose peak stands out more, a refused one last. With `segments` above 1 the spectrum is the
    /// mean of that many half-overlapping segments'.
    static func pulse(
        _ trace: [SIMD3<Double>], method: PulseMethod, sampleRate: Double, band: ClosedRange<Double>, lamp reference: FlickerCanceller? = nil,
        segments: Int = 1
    ) -> (signal: [Double], peak: SpectralPeak, method: PulseMethod, refused: Bool)? {
        func spectrum(_ pulse: [Double]) -> PowerSpectrum { Self.spectrum(pulse, sampleRate: sampleRate, band: band, segments: segments) }
        var best: (signal: [Double], peak: SpectralPeak, method: PulseMethod, refused: Bool)?
        for candidate in method.candidates {
            let extracted = candidate.extract(trace, sampleRate: sampleRate, band: band)
            var pulse = extracted
            if let reference, reference.cancelsUnconditionally { pulse = reference.cancel(from: pulse) }
            var power = spectrum(pulse)
            guard var peak = power.peak(in: band) else { continue }
            if let reference, reference.isLamp(peak.frequency, tolerance: power.lobeHalfWidth) {
                pulse = reference.cancel(from: pulse)
                power = spectrum(pulse)
                guard let again = power.peak(in: band), segments == 1 || !reference.isLamp(again.frequency, tolerance: power.lobeHalfWidth)
                else { continue }
                peak = again
            }
            // A peak on one of the lamp's harmonics (within a quarter of a bin): the camera's
            // non-linear response to the lamp (``FlickerCanceller/harmonic(near:tolerance:)``).
            // The harmonics up to it are fitted out and the peak looked for again. One still on a
            // harmonic is not taken: in one window a heart beating there cannot be told from it.
            // Within a lobe of one, where what the fit leaves of the harmonic spreads, a peak is
            // taken only where green leads the colours' change, as it does for blood.
            var refused = false
            if let reference, segments == 1 {
                let tolerance = power.lobeHalfWidth / 4
                var canceller = reference
                while let harmonic = canceller.harmonic(near: peak.frequency, tolerance: tolerance), harmonic > canceller.harmonicsFitted {
                    canceller = canceller.fitting(harmonicsThrough: harmonic)
                    pulse = canceller.cancel(from: extracted)
                    power = spectrum(pulse)
                    guard let again = power.peak(in: band) else { break }
                    peak = again
                }
                refused =
                    canceller.harmonic(near: peak.frequency, tolerance: tolerance) != nil
                    || canceller.harmonic(near: peak.frequency, tolerance: power.lobeHalfWidth) != nil
                        && !BloodSignature.greenLeads(canceller.cancel(fromColours: trace), frequency: peak.frequency, sampleRate: sampleRate)
            }
            // A candidate whose peak was refused loses to one whose peak was not.
            let better = best.map { kept in kept.refused != refused ? kept.refused : peak.snr > kept.peak.snr } ?? true
            if better { best = (pulse, peak, candidate, refused) }
        }
        return best
    }

    /// The power spectrum of `pulse` around `band` (Hz, with two bins' margin), the mean of
    /// `segments` half-overlapping segments' (one: the whole signal), each `oversampling` times
    /// finer than a segment's resolution. `pulse` must have been through the pulse's band-pass
    /// (``PulseMethod/pulseFilter(band:sampleRate:)``): the spectrum takes every other sample
    /// where that allows (``PulseMethod/spectrumDecimation(band:sampleRate:top:)``).
    static func spectrum(_ pulse: [Double], sampleRate: Double, band: ClosedRange<Double>, segments: Int, oversampling: Int = 8) -> PowerSpectrum {
        let margin = 2 * sampleRate / Double(PowerSpectrum.welchSegmentLength(count: pulse.count, segments: segments))
        let range = (band.lowerBound - margin)...(band.upperBound + margin)
        return PowerSpectrum(
            welchOf: pulse, segments: segments, sampleRate: sampleRate, range: range, oversampling: oversampling,
            decimation: PulseMethod.spectrumDecimation(band: band, sampleRate: sampleRate, top: range.upperBound))
    }

    /// Whether a window's strongest peak continues the rate being followed: a window passed a
    /// gate at most `trackingSeconds` ago, the peak lies next to the rate and clears the tracking
    /// gate, and the window's `trace` changes colour at the peak as blood does
    /// (``BloodSignature``). A chance peak of noise lands anywhere in the band, so it rarely
    /// continues a rate; and since only a gated window renews the tracking, a false report cannot
    /// carry itself on for longer than `trackingSeconds`. GREEN is not followed: it cannot tell
    /// the pulse from changes of brightness.
    private func continuesFollowedRate(_ peak: SpectralPeak, at time: Double, trace: [SIMD3<Double>]) -> Bool {
        let c = configuration
        guard c.trackingSeconds > 0, c.method != .green, let followed, time - followed.gatedTime <= c.trackingSeconds,
            abs(peak.frequency - followed.frequency) * 60 <= c.trackingWidth, peak.snr >= c.trackingMinimumSNR
        else { return false }
        return BloodSignature.matches(trace, frequency: peak.frequency, sampleRate: c.sampleRate)
    }

    /// The long window's peak when it clears its gate; failing that, the first lengthened
    /// window's (``VitalsConfiguration/lengthenedWindows``, all ending at `end`) that clears its
    /// own gate and lies within one bin of the long window's peak (1/`longWindowSeconds` Hz): a
    /// lengthened window confirms the latest 20 s's peak, and so does not report a pulse that
    /// was in its older seconds only (a patient who left the face to a photo). `nil` when none
    /// does.
    private func longerWindowPeak(endingAt end: Double, band: ClosedRange<Double>) -> SpectralPeak? {
        let c = configuration
        guard let long = longWindowPeak(endingAt: end, seconds: c.longWindowSeconds, band: band) else { return nil }
        if long.snr >= c.longWindowMinimumSNR { return long }
        for window in c.lengthenedWindows {
            if let peak = longWindowPeak(endingAt: end, seconds: window.seconds, band: band), peak.snr >= window.minimumSNR,
                abs(peak.frequency - long.frequency) <= 1 / c.longWindowSeconds
            {
                return peak
            }
        }
        return nil
    }

    /// The pulse's peak over the `seconds` (the long window's or a lengthened one's) ending at
    /// `end`, its spectrum averaged over half-overlapping segments of half the long window (three
    /// in the long window, five in 30 s, seven in 40 s by default); `nil` when that window is off
    /// or not yet filled with a face, and when its peak is the lamp's flicker or, once fitted out,
    /// one of its harmonics.
    ///
    /// With ``VitalsConfiguration/longWindowUsesPBV`` the pulse is PBV on the window's own
    /// band-limited covariance with the lamp regressed out of each channel first; PBV already
    /// weighs the colours by blood's signature, and the colour check (``BloodSignature``) is left
    /// out, because where this window matters (dark skin, dim light) red and blue alone are too
    /// noisy for their phases to show blood's even when the pulse is there. Otherwise the pulse is
    /// the configured method's, cancelled of the lamp when the lamp is its strongest peak, and the
    /// colour at the peak must be blood's.
    private func longWindowPeak(endingAt end: Double, seconds: Double, band: ClosedRange<Double>) -> SpectralPeak? {
        let c = configuration
        // GREEN cannot tell the pulse from changes of brightness; a lower gate would let those through.
        guard seconds > c.windowSeconds, c.method != .green, let trace = faceTrace(endingAt: end, seconds: seconds) else { return nil }
        // Segments of half the long window (10 s by default): three in the long window itself,
        // as many as fit in a lengthened one.
        let segmentSeconds = c.longWindowSeconds / 2
        let lengthened = seconds > c.longWindowSeconds
        let segments = lengthened ? max(3, Int((2 * seconds / segmentSeconds).rounded(.down)) - 1) : 3
        // A lengthened window reads its lamp on the coarsest multiple of its own resolution that
        // is still as fine as a segment's read four times finer (2× for 30 s, 1× for 40 s), and
        // on the PBV path takes its segments' spectra on a 4× grid: at 4× and 8× they took half
        // its time. (The POS path, `longWindowUsesPBV` off, keeps the 8× grid.)
        let lampOversampling = lengthened ? Int((4 * segmentSeconds / seconds).rounded(.up)) : 4
        let reference = flickerReference(scene: sceneTrace(endingAt: end, seconds: seconds), face: trace, oversampling: lampOversampling)
        if c.longWindowUsesPBV {
            var lamp = reference.map { FlickerCanceller(reading: $0, fitsHarmonic: true) }
            func peak(_ lamp: FlickerCanceller?) -> SpectralPeak? {
                let pulse = PulseMethod.bandLimitedPBV(trace, sampleRate: c.sampleRate, band: band, flicker: lamp)
                return Self.spectrum(pulse, sampleRate: c.sampleRate, band: band, segments: segments, oversampling: lengthened ? 4 : 8).peak(in: band)
            }
            guard var found = peak(lamp) else { return nil }
            // The lamp is already out of every channel: what is left at its rate is not taken. The
            // fit spans the whole window, so a heart more than one of its bins (not one of a
            // segment's) from the lamp keeps most of its power through it. A peak on a higher
            // harmonic than the fit's (within a quarter of the window's bin) has the harmonics up
            // to it fitted out too, and one that stays on a harmonic is not taken, as in the 10 s
            // window (``pulse(_:method:sampleRate:band:lamp:segments:)``).
            let lampBin = 1 / seconds
            while let fitted = lamp, let harmonic = fitted.harmonic(near: found.frequency, tolerance: lampBin / 4), harmonic > fitted.harmonicsFitted {
                lamp = fitted.fitting(harmonicsThrough: harmonic)
                guard let again = peak(lamp) else { return nil }
                found = again
            }
            guard lamp?.isLamp(found.frequency, tolerance: lampBin, harmonic: false) != true,
                lamp?.harmonic(near: found.frequency, tolerance: lampBin / 4) == nil
            else { return nil }
            return found
        }
        let lamp = reference.map { FlickerCanceller(reading: $0) }
        guard let peak = Self.pulse(trace, method: c.method, sampleRate: c.sampleRate, band: band, lamp: lamp, segments: segments)?.peak,
            BloodSignature.matches(trace, frequency: peak.frequency, sampleRate: c.sampleRate)
        else { return nil }
        return peak
    }

    /// The brightness that carries the lamp's flicker over the window, read for a lamp: the
    /// scene's around the face (`scene`, ``sceneTrace(endingAt:seconds:)``) when it shows a lamp; failing that, the
    /// `face`'s own (its colours over the same window, summed) when the face flickers as white light
    /// does (``LampSignature``: a dark or plain backdrop, or a lamp that lights the patient and not
    /// the wall); failing that, the scene's, for the camera's own changes. `nil` with flicker
    /// cancelling off or nothing to use. Each is read on a spectrum `oversampling` times finer
    /// than its natural resolution (``LampReading``).
    ///
    /// The face's brightness carries the pulse too, a little: cancelling it takes the share of
    /// the pulse that moves all colours alike (the long window's PBV loses that share), and a
    /// heart beating at the lamp's own rate goes with the lamp.
    private func flickerReference(scene sceneTrace: [Double]?, face: [SIMD3<Double>], oversampling: Int = 4) -> LampReading? {
        let c = configuration
        guard c.cancelsFlicker else { return nil }
        let scene = sceneTrace.map { LampReading($0, sampleRate: c.sampleRate, band: heartRateBand, oversampling: oversampling) }
        if let scene, scene.lampFrequency != nil { return scene }
        // A lamp moving green by LampSignature's least moves the colours' sum by at least a quarter
        // of that (red and blue move at least half as much as green, within 45° of its phase): a
        // shallower sum has none, and its spectrum is skipped.
        let brightness = LampReading(
            face.map { $0.sum() }, sampleRate: c.sampleRate, band: heartRateBand, minimumAmplitude: LampSignature.minimumAmplitude / 4,
            oversampling: oversampling)
        if let lamp = brightness.lampFrequency, LampSignature.matches(face, frequency: lamp, sampleRate: c.sampleRate) { return brightness }
        return scene
    }

    /// The scene's brightness around the face over the `seconds` before `end`, resampled as the
    /// colours are; `nil` unless it was measured throughout, and with flicker cancelling off
    /// (nothing reads it then).
    private func sceneTrace(endingAt end: Double, seconds: Double) -> [Double]? {
        guard configuration.cancelsFlicker else { return nil }
        return uniformTrace(endingAt: end, seconds: seconds, minimumPresence: 0, of: \.backgrounds)
            .flatMap { trace in trace.allSatisfy { $0.x > 0 } ? trace.map { $0.x } : nil }
    }

    /// The heart-rate band in Hz.
    private var heartRateBand: ClosedRange<Double> { (configuration.heartRateBand.lowerBound / 60)...(configuration.heartRateBand.upperBound / 60) }

    /// Respiration from the slow swell of blood volume: the normalised colour projected on the
    /// pulse's own colour direction (POS's plane with the mix tuned in the heart-rate band), then
    /// the strongest peak in the respiration band.
    private func respirationRate(windowEnd end: Double) -> Double? {
        let c = configuration
        guard let trace = uniformTrace(endingAt: end, seconds: c.respirationWindowSeconds, minimumPresence: 1) else { return nil }
        let mean = trace.reduce(SIMD3<Double>.zero, +) / Double(trace.count)
        let normalised = trace.map { $0 / mean }
        let p1 = normalised.map { $0.y - $0.z }
        let p2 = normalised.map { $0.y + $0.z - 2 * $0.x }
        let heart = BandPass(band: heartRateBand, sampleRate: c.sampleRate)
        let d2 = Stats.standardDeviation(heart.apply(p2, padding: Int(c.sampleRate)))
        let alpha = d2 > 0 ? Stats.standardDeviation(heart.apply(p1, padding: Int(c.sampleRate))) / d2 : 0
        let band = (c.respirationBand.lowerBound / 60)...(c.respirationBand.upperBound / 60)
        let projected = zip(p1, p2).map { -($0 + alpha * $1) }
        let slow = BandPass(band: band, sampleRate: c.sampleRate).apply(projected, padding: Int(4 * c.sampleRate))
        let margin = 2 / c.respirationWindowSeconds
        let spectrum = PowerSpectrum(
            of: slow,
            sampleRate: c.sampleRate,
            range: max(0.01, band.lowerBound - margin)...(band.upperBound + margin),
            oversampling: 4
        )
        guard let peak = spectrum.peak(in: band), peak.snr >= c.minimumRespirationSNR else { return nil }
        return peak.frequency * 60
    }

    /// Beat-to-beat intervals from the pulse's peaks over the variability window.
    private func variability(windowEnd end: Double, band: ClosedRange<Double>) -> HeartRateVariability? {
        let c = configuration
        guard let trace = faceTrace(endingAt: end, seconds: c.variabilityWindowSeconds, minimumPresence: 1) else { return nil }
        let reference = flickerReference(scene: sceneTrace(endingAt: end, seconds: c.variabilityWindowSeconds), face: trace)
        let lamp = reference.map { FlickerCanceller(reading: $0) }
        guard let (pulse, peak, method, refused) = Self.pulse(trace, method: c.method, sampleRate: c.sampleRate, band: band, lamp: lamp),
            !refused, peak.snr >= c.minimumVariabilitySNR
        else { return nil }
        // The crests find the beats; the whole waveform of each beat, matched against the
        // window's average beat, times them. Beats unlike the average (noise, motion) count
        // against the window like implausible intervals do.
        let crests = BeatDetector.beatTimes(in: pulse, sampleRate: c.sampleRate, heartRate: peak.frequency)
        let matched = BeatDetector.matchedBeatTimes(in: pulse, sampleRate: c.sampleRate, coarse: crests, heartRate: peak.frequency)
        let beatLike = matched.correlations.filter { $0 >= c.minimumBeatCorrelation }.count
        guard Double(beatLike) >= c.minimumBeatAcceptance * Double(max(1, matched.times.count)) else { return nil }
        // The same beats timed on each chessboard half of the face: their camera noise is
        // independent, so the spread of the differences measures how much noise moves a time.
        guard let timingVariance = halvesTimingVariance(windowEnd: end, band: band, method: method, beats: matched.times, heartRate: peak.frequency)
        else {
            return nil
        }
        return BeatDetector.variability(
            beatTimes: matched.times, timingVariance: timingVariance, minimumBeats: c.minimumBeats,
            minimumAcceptance: c.minimumBeatAcceptance, maximumNoiseShare: c.maximumTimingNoiseShare)
    }

    /// The variance of the whole face's beat times due to noise: a quarter of the variance of
    /// the differences between the times found on the two halves (each half has twice the
    /// whole's noise variance, and the difference adds both). The halves keep the skin mask's
    /// noise that the whole face's colours have had fitted out (``ColourRegression``), so this
    /// errs high: HRV is withheld a little more often, not reported worse.
    private func halvesTimingVariance(windowEnd end: Double, band: ClosedRange<Double>, method: PulseMethod, beats: [Double], heartRate: Double)
        -> Double?
    {
        let c = configuration
        var halves: [[Double]] = []
        for source in [\Self.whiteColours, \Self.blackColours] {
            guard let trace = uniformTrace(endingAt: end, seconds: c.variabilityWindowSeconds, minimumPresence: 1, of: source) else { return nil }
            let pulse = method.extract(trace, sampleRate: c.sampleRate, band: band)
            halves.append(BeatDetector.matchedBeatTimes(in: pulse, sampleRate: c.sampleRate, coarse: beats, heartRate: heartRate).times)
        }
        let tolerance = 0.2 / heartRate
        var differences: [Double] = []
        var k = 0
        for t in halves[0] {
            while k < halves[1].count, halves[1][k] < t - tolerance { k += 1 }
            if k < halves[1].count, abs(halves[1][k] - t) <= tolerance { differences.append(t - halves[1][k]) }
        }
        guard differences.count >= c.minimumBeats / 2 else { return nil }
        return Stats.standardDeviation(differences) * Stats.standardDeviation(differences) / 4
    }

    /// The face's mean colour over the `seconds` before `end` (see ``uniformTrace``), with what
    /// the skin mask's changing size does to it taken out (``ColourRegression``; not for GREEN,
    /// which has no colour check to refuse what the fit leaves at a wrong rate).
    private func faceTrace(endingAt end: Double, seconds: Double, minimumPresence: Double? = nil) -> [SIMD3<Double>]? {
        faceColours(endingAt: end, seconds: seconds, minimumPresence: minimumPresence, scene: nil)?.maskFitted
    }

    /// A window's face colours, fitted (``ColourRegression``) on the skin mask's size, and on
    /// request on the scene's brightness as well.
    private struct FittedColours {
        /// The colours as resampled.
        var trace: [SIMD3<Double>]
        /// What the mask fit regresses on (nothing for GREEN or with the fit off).
        var regressors: [[Double]]
        /// The scene's brightness over the window; `nil` when not asked for, or not measured
        /// throughout the window.
        var scene: [Double]?
        /// With the skin mask's changing size taken out (``faceTrace(endingAt:seconds:minimumPresence:)``).
        var maskFitted: [SIMD3<Double>]

        /// With the scene's brightness taken out as well, jointly; `nil` without a scene, or when
        /// the fit left it out (it did not change, or changed with the mask's size).
        func sceneFitted() -> [SIMD3<Double>]? {
            guard let scene else { return nil }
            let fit = ColourRegression.fitting(regressors + [scene], from: trace)
            return fit.fitted.last == true ? fit.colours : nil
        }
    }

    /// The face's colours of the `seconds` before `end` for ``FittedColours``, with `scene`
    /// (``sceneTrace(endingAt:seconds:)`` of the same window) to fit on request; `nil` as
    /// ``uniformTrace(endingAt:seconds:minimumPresence:of:)``.
    private func faceColours(endingAt end: Double, seconds: Double, minimumPresence: Double? = nil, scene: [Double]?) -> FittedColours? {
        guard let trace = uniformTrace(endingAt: end, seconds: seconds, minimumPresence: minimumPresence) else { return nil }
        let c = configuration
        guard c.method != .green else { return FittedColours(trace: trace, regressors: [], scene: nil, maskFitted: trace) }
        var regressors: [[Double]] = []
        if c.cancelsMaskChanges, let counts = uniformTrace(endingAt: end, seconds: seconds, minimumPresence: minimumPresence, of: \.skinCounts) {
            regressors.append(counts.map { $0.x })
        }
        return FittedColours(trace: trace, regressors: regressors, scene: scene, maskFitted: ColourRegression.removing(regressors, from: trace))
    }

    /// The colour traces of the `seconds` before `end`, resampled at the configured rate, with
    /// frames without a face bridged by interpolation; `nil` when a face was present in less than
    /// `minimumPresence` (default: the configured one) of the window's frames.
    private func uniformTrace(
        endingAt end: Double, seconds: Double, minimumPresence: Double? = nil, of source: KeyPath<Self, [SIMD3<Double>]> = \.colours
    ) -> [SIMD3<Double>]? {
        let colours = self[keyPath: source]
        let start = end - seconds
        guard let first = times.firstIndex(where: { $0 >= start }) else { return nil }
        var last = first
        var faces = 0, frames = 0
        while last < times.count, times[last] < end {
            frames += 1
            if present[last] { faces += 1 }
            last += 1
        }
        // The window must be covered: its first frame within two sample periods of its start.
        guard frames > 0, times[first] - start <= 2 / configuration.sampleRate else { return nil }
        let required = minimumPresence ?? configuration.minimumPresence
        guard Double(faces) >= required * Double(frames) - 1e-9, faces >= 2 else { return nil }

        let count = Int((seconds * configuration.sampleRate).rounded())
        var trace = [SIMD3<Double>](repeating: .zero, count: count)
        var previous = -1  // index of the last face sample at or before the grid time
        var i = first
        for k in 0..<count {
            let t = start + Double(k) / configuration.sampleRate
            while i < last, times[i] <= t {
                if present[i] { previous = i }
                i += 1
            }
            var next = i
            while next < last, !present[next] { next += 1 }
            switch (previous >= first ? previous : nil, next < last ? next : nil) {
            case let (p?, n?):
                let w = (t - times[p]) / (times[n] - times[p])
                trace[k] = colours[p] + (colours[n] - colours[p]) * min(1, max(0, w))
            case let (p?, nil): trace[k] = colours[p]
            case let (nil, n?): trace[k] = colours[n]
            case (nil, nil): return nil
            }
        }
        return trace
    }
}
