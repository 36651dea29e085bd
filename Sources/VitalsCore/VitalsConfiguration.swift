/// Settings of the vitals engine. Every field has a default that suits a kiosk camera.
public struct VitalsConfiguration: Sendable, Hashable {
    /// Pulse extraction method. Default ``PulseMethod/pos``: ``PulseMethod/pbv`` does better on
    /// the kiosk-webcam scenes under a lamp and on type V skin, worse on the idealised camera
    /// (a lamp flickering inside the heart-rate band, 45 bpm read as its harmonic, a cabinet);
    /// ``PulseMethod/auto`` raised false reports on a skin-coloured cabinet (the better of two
    /// noise peaks). While a lamp flickers (seen around the face or, failing that, on it), POS's
    /// 10 s window becomes ``PulseMethod/auto``: with the lamp cancelled POS alone kept too little
    /// of the pulse under a lamp inside the heart-rate band, and CHROM gave no false report on the
    /// report's photos and mannequins under a lamp.
    public var method: PulseMethod = .pos
    /// Rate at which the colour traces are resampled for analysis, in Hz. Default 30.
    public var sampleRate: Double = 30
    /// Heart-rate window length in seconds; estimates describe its centre. Default 10.
    public var windowSeconds: Double = 10
    /// Seconds between estimates. Default 1.
    public var updateInterval: Double = 1
    /// Heart-rate band in beats per minute. Default 42–240.
    public var heartRateBand: ClosedRange<Double> = 42...240
    /// Estimates with a lower pulse SNR (dB) are withheld. Default 0 dB: on the scenes without
    /// a pulse (photos, mannequins, furniture, an empty room, flickering lamps, the darkest skin
    /// in dim light, both camera models) −1 dB let a skin-coloured cabinet under a faintly
    /// flickering lamp through in 4–7% of its seconds.
    public var minimumSNR: Double = 0
    /// Whether the brightness of the scene around the face (the lamp's flicker, with no pulse in
    /// it) is regressed out of the pulse signal. Default on.
    public var cancelsFlicker = true
    /// Whether a 10 s window without a flickering lamp, whose colours have not had the scene's
    /// brightness fitted out (``cancelsSceneChanges``), has it (and its derivative) regressed out
    /// of its pulse all the same: a kiosk webcam's auto-exposure hunts
    /// in steps, and the tones that makes in the whole picture (in the simulator's dim scenes near
    /// 136, 158 and 198 bpm, background and face alike, none clear enough to be a lamp) made a
    /// false report on a photo of type VI skin at 80 lux and covered weak pulses. A window with a
    /// lamp cancels it only when it is the pulse's strongest peak, as without this. Default on
    /// (needs `cancelsFlicker`); the long window keeps to the lamp: regressing there always let a
    /// talking patient's jaw through as 222 bpm under its gate.
    public var cancelsCameraChanges = true
    /// Whether what the skin mask's changing size does to the face's mean colour is taken out of
    /// it (``ColourRegression``) before any pulse, HRV's beats or a lamp in the face's brightness
    /// is looked for (respiration keeps the plain trace): on the report's scenes type VI skin
    /// under a camera without auto-exposure 41% → 60% of its seconds, a talking patient 22% → 32%,
    /// type V under a 1 Hz lamp 81% → 86%, no false report. Default on (off in ``plain``; GREEN
    /// never uses it).
    public var cancelsMaskChanges = true
    /// Whether, in a 10 s window whose flicker reference shows no lamp, the scene's brightness
    /// around the face (``BackgroundLight``: the camera's exposure steps) is fitted out of the
    /// face's colours too, jointly with the skin mask's size (``ColourRegression``); such a
    /// window's pulse is then not cancelled of the camera's changes again
    /// (``cancelsCameraChanges``). On the report's scenes type V in ordinary light 84% → 100% of
    /// its seconds (held-out 73% → 84%), no false report. Not under a lamp (a skin-coloured
    /// cabinet under a faint flicker reported in 4 of 92 windows), nor in the long window (a
    /// talking patient's jaw read as 222 bpm) or HRV's. Default on (needs `cancelsFlicker`; off
    /// in ``plain``; GREEN never uses it).
    public var cancelsSceneChanges = true
    /// When POS's 10 s window is under `minimumSNR` and no lamp is in view, the same window's PBV
    /// (``PulseMethod/pbv``: 1.6 s windows, each mixing the colours by its own covariance) is
    /// tried behind the same gate before the longer windows. Where the colour's change is lost and
    /// brightness keeps the pulse (a webcam's MJPEG quantises chroma in 16×16 blocks; the pulse's
    /// share of luma passes), POS's fixed projections read mostly the lost chroma and PBV's mix
    /// leans on what kept it. Its peak is taken only where green leads the colours' change at it
    /// (``BloodSignature/greenLeads(_:frequency:sampleRate:)``): PBV's free mix also found the
    /// tones that the blocks' quantisation makes of a skin-coloured cabinet's slow changes, which
    /// move blue most. Tuning set at quality 75: types I, III and IV in ordinary light 76/65/48% →
    /// 90/90/65% of the seconds (docs/VITALS.md, "MJPEG"). Not under a lamp, where POS is tried
    /// beside CHROM (``PulseMethod/underALamp``). Default on (off in ``plain``; only with POS).
    public var triesPBVAfterPOS = true
    /// When a window's SNR is under `minimumSNR`, the longer window (seconds, ending at the same
    /// time) is tried, its spectrum averaged over three half-overlapping segments; 0 turns it off
    /// (and so does ``PulseMethod/green``, which cannot tell the pulse from brightness changes).
    /// Default 20.
    public var longWindowSeconds: Double = 20
    /// The long window's gate (dB). −2.5 dB was set on the same scenes for at most 1% of their
    /// seconds with a heart rate (for POS with the colour check); with the camera's changes
    /// cancelled from the 10 s window, −3.5 dB gave no false report in 3 800 windows of scenes
    /// without a pulse (9 seeds, both camera models: docs/VITALS.md), and −4 dB gave some.
    /// Default −3.5 dB.
    public var longWindowMinimumSNR: Double = -3.5
    /// When the long window's peak is under its gate too, the window is lengthened again, in
    /// these steps in order (each ending at the same time; the first whose peak clears its gate
    /// and lies within one bin of the long window's own peak is taken), each spectrum the mean of
    /// as many half-overlapping segments of half the long window as fit (five in 30 s, seven in
    /// 40 s):
    /// more segments steady the noise floor, so a chance peak of noise stands out less and the
    /// gate can be lower, while a steady pulse stands out of each segment as much as before.
    /// Default 30 s at −5 dB, then 40 s at −6 dB: on the vitals report's scenes without a pulse as
    /// 60 s visits none reported at these gates, and some did 0.5 dB lower (docs/VITALS.md,
    /// "Lengthened windows"). Empty, or the long window off, turns lengthening off.
    public var lengthenedWindows: [LengthenedWindow] = [LengthenedWindow(seconds: 30, minimumSNR: -5), LengthenedWindow(seconds: 40, minimumSNR: -6)]
    /// Whether the long window's pulse is PBV with one covariance of the band-passed colours over
    /// the whole long window (the lamp regressed out of each channel first), for POS, CHROM, PBV
    /// and auto alike, rather than `method` with the colour check: over 20 s the noise is steady
    /// enough to measure, and on dark skin and in dim light, where the long window is needed, it
    /// is mostly shot noise, which this mix passes less of than POS. Default on.
    public var longWindowUsesPBV = true
    /// Once a heart rate has been reported, a window that passes neither gate is still reported
    /// when its strongest peak lies within `trackingWidth` bpm of the last rate, that rate is at
    /// most this many seconds old, the peak clears `trackingMinimumSNR` and the colours move at
    /// it as blood moves them (``BloodSignature``): a pulse already found fades in and out of the
    /// noise but stays where it was, while a chance peak lands anywhere in the band. Only a
    /// window that passed a gate renews it, so a false report cannot carry itself on; GREEN is
    /// never followed. 0 turns it off. Default 10.
    public var trackingSeconds: Double = 10
    /// How far (bpm) the followed rate may move from one report to the next. Default 6.
    public var trackingWidth: Double = 6
    /// The gate (dB) of a peak that continues a followed rate. Default −4 dB.
    public var trackingMinimumSNR: Double = -4
    /// Fraction of a window in which a face must be present. Default 0.9.
    public var minimumPresence: Double = 0.9

    /// Respiration window in seconds. Default 32.
    public var respirationWindowSeconds: Double = 32
    /// Respiration band in breaths per minute. Default 6–36.
    public var respirationBand: ClosedRange<Double> = 6...36
    /// Respiration estimates with a lower SNR (dB) are withheld. Default 3 dB.
    public var minimumRespirationSNR: Double = 3

    /// Heart-rate-variability window in seconds. Default 30.
    public var variabilityWindowSeconds: Double = 30
    /// Fewest beats for an HRV figure. Default 20.
    public var minimumBeats: Int = 20
    /// Fraction of beat intervals that must be plausible for an HRV figure. Default 0.85.
    public var minimumBeatAcceptance: Double = 0.85
    /// HRV is reported only when the window's pulse SNR is at least this (dB). Default 0 dB,
    /// as for the rate: the beats' own timing noise is the stricter gate
    /// (`maximumTimingNoiseShare`).
    public var minimumVariabilitySNR: Double = 0
    /// HRV is withheld when the beat times' noise would explain more than this share of the
    /// measured RMSSD² (what is reported is corrected for that noise). Default 0.5.
    public var maximumTimingNoiseShare: Double = 0.5
    /// A beat whose waveform correlates with the window's average beat by less than this is
    /// not beat-like (noise, motion); at most `1 - minimumBeatAcceptance` of them are allowed.
    /// Default 0.8.
    public var minimumBeatCorrelation: Double = 0.8

    /// The default configuration.
    public init() {}

    /// The engine without its quality aids: POS on the face's mean colour behind a fixed 0 dB
    /// SNR gate, no flicker cancelling, no PBV after POS, no long window, no tracking. The
    /// reference the report compares the engine with.
    public static var plain: VitalsConfiguration {
        var c = VitalsConfiguration()
        c.method = .pos
        c.minimumSNR = 0  // stated, so the reference stays at 0 dB if the engine's gate moves
        c.cancelsFlicker = false
        c.cancelsMaskChanges = false
        c.cancelsSceneChanges = false
        c.longWindowSeconds = 0
        c.lengthenedWindows = []
        c.trackingSeconds = 0
        c.triesPBVAfterPOS = false
        return c
    }

    /// Checks that the values make sense together.
    ///
    /// - Throws: ``ConfigurationError`` naming the first field that does not.
    public func validate() throws(ConfigurationError) {
        guard sampleRate >= 10, sampleRate <= 240 else { throw ConfigurationError("sampleRate must be 10…240 Hz, got \(sampleRate)") }
        guard windowSeconds >= 4, windowSeconds <= 60 else {
            throw ConfigurationError("windowSeconds must be 4…60, got \(windowSeconds)")
        }
        guard longWindowSeconds == 0 || (longWindowSeconds > windowSeconds && longWindowSeconds <= 60) else {
            throw ConfigurationError("longWindowSeconds must be 0 (off) or longer than windowSeconds and at most 60, got \(longWindowSeconds)")
        }
        for window in lengthenedWindows where longWindowSeconds > 0 {
            guard window.seconds > longWindowSeconds, window.seconds <= 60, window.minimumSNR.isFinite else {
                throw ConfigurationError(
                    "a lengthened window must be longer than longWindowSeconds and at most 60 s, behind a finite gate; got \(window.seconds) s at \(window.minimumSNR) dB")
            }
        }
        guard updateInterval > 0, updateInterval <= windowSeconds else {
            throw ConfigurationError("updateInterval must be in (0, windowSeconds], got \(updateInterval)")
        }
        guard heartRateBand.lowerBound >= 30, heartRateBand.upperBound <= 300 else {
            throw ConfigurationError("heartRateBand must lie within 30…300 bpm")
        }
        guard heartRateBand.upperBound / 60 < sampleRate / 2 else {
            throw ConfigurationError("heartRateBand's top (\(heartRateBand.upperBound) bpm) needs a sampleRate above \(heartRateBand.upperBound / 30) Hz")
        }
        guard trackingSeconds >= 0, trackingWidth > 0 else {
            throw ConfigurationError("trackingSeconds must be ≥ 0 (0: off) and trackingWidth above 0")
        }
        guard (0...1).contains(minimumPresence) else { throw ConfigurationError("minimumPresence must be 0…1") }
        guard respirationWindowSeconds >= 16, variabilityWindowSeconds >= 10 else {
            throw ConfigurationError("respirationWindowSeconds must be ≥ 16 and variabilityWindowSeconds ≥ 10")
        }
        guard (0...1).contains(minimumBeatAcceptance), (-1...1).contains(minimumBeatCorrelation), maximumTimingNoiseShare >= 0 else {
            throw ConfigurationError("minimumBeatAcceptance must be 0…1, minimumBeatCorrelation −1…1 and maximumTimingNoiseShare ≥ 0")
        }
    }
}

/// A step by which a window too weak for the long window's gate is lengthened
/// (``VitalsConfiguration/lengthenedWindows``).
public struct LengthenedWindow: Sendable, Hashable {
    /// The window's length in seconds, ending where the heart-rate window ends.
    public var seconds: Double
    /// The gate (dB) its peak must clear.
    public var minimumSNR: Double

    /// A step of `seconds` behind a gate of `minimumSNR` dB.
    public init(seconds: Double, minimumSNR: Double) {
        self.seconds = seconds
        self.minimumSNR = minimumSNR
    }
}

/// A configuration value out of range.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong, in words.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The video the engine can use, checked before anything is allocated for it: a header that
/// claims a million frames a second or a frame of a billion pixels is refused with the reason
/// instead of being given the memory it asks for.
public enum VitalsInput {
    /// Frame rates the engine can use: enough to see a pulse of 240 bpm, no faster than a camera.
    public static let supportedFrameRates: ClosedRange<Double> = 4...480
    /// The widest and tallest frame the engine reads (4K cameras fit).
    public static let maximumDimension = 4096

    /// Why frames of `width`×`height` at `framesPerSecond` cannot be analysed; `nil` if they can.
    public static func unsupportedReason(width: Int, height: Int, framesPerSecond: Double) -> String? {
        guard framesPerSecond.isFinite, supportedFrameRates.contains(framesPerSecond) else {
            return "a frame rate of \(framesPerSecond) fps is outside the \(Int(supportedFrameRates.lowerBound))…\(Int(supportedFrameRates.upperBound)) fps the vitals engine uses"
        }
        guard (1...maximumDimension).contains(width), (1...maximumDimension).contains(height) else {
            return "frames of \(width)x\(height) are larger than the \(maximumDimension)x\(maximumDimension) the vitals engine reads"
        }
        return nil
    }
}
