/// The engine's reading for one moment: heart rate with its quality, and, where their own
/// quality allows, respiration and heart-rate variability.
public struct VitalsEstimate: Sendable, Hashable {
    /// Why there is or is not a heart rate.
    public enum Status: String, Sendable, Hashable {
        /// A heart rate passed a quality gate (the window's, the long window's or tracking's).
        case ok
        /// Nobody in front of the camera for too much of the window.
        case noFace = "no_face"
        /// A face, but the pulse did not stand out enough to trust.
        case lowQuality = "low_quality"
    }

    /// Time the estimate describes: the centre of its window, in seconds of the stream.
    public var time: Double
    /// Why there is or is not a heart rate.
    public var status: Status
    /// Heart rate in beats per minute; `nil` unless ``status`` is ``Status/ok``.
    public var heartRate: Double?
    /// SNR of the pulse peak in dB; `nil` when there was no face.
    public var snr: Double?
    /// Respiration rate in breaths per minute, when its own quality gate passed.
    public var respirationRate: Double?
    /// Heart-rate variability, when its own quality gate passed.
    public var variability: HeartRateVariability?

    /// Creates an estimate.
    public init(
        time: Double, status: Status, heartRate: Double? = nil, snr: Double? = nil,
        respirationRate: Double? = nil, variability: HeartRateVariability? = nil
    ) {
        self.time = time
        self.status = status
        self.heartRate = heartRate
        self.snr = snr
        self.respirationRate = respirationRate
        self.variability = variability
    }
}

/// Heart-rate variability from beat-to-beat intervals.
public struct HeartRateVariability: Sendable, Hashable {
    /// Root mean square of successive interval differences, in milliseconds.
    public var rmssd: Double
    /// Standard deviation of the intervals, in milliseconds.
    public var sdnn: Double
    /// Beats the figures rest on.
    public var beats: Int
}
