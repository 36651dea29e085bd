#if canImport(Glibc)
import Glibc
#endif

/// Echo return loss enhancement (ERLE): how much quieter the canceller's output is than the
/// microphone while the speaker plays, in dB. Measured over frames whose reference is loud
/// enough to leave an echo; frames where the patient also speaks pull it down, so it is a
/// conservative figure.
public struct EchoReturnLossMeter: Sendable {
    /// Reference frames quieter than this (RMS, full scale 32768) are not counted.
    public static let activeReference = 32_768 * 0.003  // about -50 dBFS
    /// Frames needed before there is a figure (half a second).
    public static let minimumFrames = 50

    private var microphoneEnergy = 0.0
    private var outputEnergy = 0.0
    private var referenceEnergy = 0.0
    private var frames = 0

    /// An empty meter.
    public init() {}

    /// Counts one frame: what the microphone heard, what the canceller left, what was played.
    public mutating func add(microphone: [Int16], output: [Int16], reference: [Int16]) {
        guard FrameLevel.rms(reference) >= Self.activeReference else { return }
        microphoneEnergy += FrameLevel.energy(microphone)
        outputEnergy += FrameLevel.energy(output)
        referenceEnergy += FrameLevel.energy(reference)
        frames += 1
    }

    /// The ERLE so far, dB; `nil` before ``minimumFrames`` frames with the speaker playing.
    public var erle: Double? { erle(after: Self.minimumFrames) }

    /// The ERLE so far, dB; `nil` before `minimum` frames with the speaker playing.
    public func erle(after minimum: Int) -> Double? {
        guard frames >= max(1, minimum), microphoneEnergy > 0 else { return nil }
        return 10 * log10(microphoneEnergy / max(outputEnergy, 1))
    }

    /// How loud the microphone was against the reference (energy ratio) over the frames counted:
    /// the echo path's gain where nothing but the echo was heard; nil before ``minimumFrames``.
    public var echoPathGain: Double? {
        guard frames >= Self.minimumFrames, referenceEnergy > 0 else { return nil }
        return microphoneEnergy / referenceEnergy
    }

    /// Starts a new measurement.
    public mutating func reset() { self = Self() }

}
