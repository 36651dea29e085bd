import VitalsCore

/// Why a device (or a file standing in for one) cannot deliver.
public enum DeviceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The device or file is not there.
    case missing(String)
    /// It is there but offers nothing the daemon can use.
    case unsupported(String)
    /// It failed while open (unplugged, I/O error, malformed file).
    case failed(String)

    /// A description for logs and status.
    public var description: String {
        switch self {
        case .missing(let message): "missing: \(message)"
        case .unsupported(let message): "unsupported: \(message)"
        case .failed(let message): "failed: \(message)"
        }
    }
}

/// The video a source delivers, as negotiated.
public struct VideoStreamFormat: Sendable, Hashable, CustomStringConvertible {
    /// Frame layout.
    public var geometry: FrameGeometry
    /// Colour range of the luma/chroma samples.
    public var range: ColourRange
    /// The frame rate asked for (the measured one is in the status).
    public var nominalFPS: Double

    /// Creates a format.
    public init(geometry: FrameGeometry, range: ColourRange, nominalFPS: Double) {
        self.geometry = geometry
        self.range = range
        self.nominalFPS = nominalFPS
    }

    /// E.g. `yuyv 640x480 @30`.
    public var description: String {
        let rate = (nominalFPS * 100).rounded() / 100
        return "\(geometry.format) \(geometry.width)x\(geometry.height) @\(rate == rate.rounded() ? String(Int(rate)) : String(rate))"
    }
}

/// A camera, or a file standing in for one. Blocking: driven from a thread of its own.
public protocol VideoSource: AnyObject {
    /// The device path or file, for status and logs.
    var name: String { get }
    /// Opens the source and negotiates the format.
    func open() throws(DeviceError) -> VideoStreamFormat
    /// Waits for the next frame and lends it to `body` with its capture time (seconds since
    /// ``open()``, on a monotonic clock). Returns `false` at the end of a file.
    func nextFrame(_ body: (UnsafeRawBufferPointer, Double) -> Void) throws(DeviceError) -> Bool
    /// Releases the device; ``open()`` may be called again.
    func close()
}

/// The audio a source delivers before conversion to 16 kHz mono.
public struct AudioStreamFormat: Sendable, Hashable, CustomStringConvertible {
    /// Frames per second.
    public var sampleRate: Int
    /// Interleaved channels.
    public var channelCount: Int
    /// Sample encoding, e.g. `S16_LE`.
    public var encoding: String

    /// Creates a format.
    public init(sampleRate: Int, channelCount: Int, encoding: String) {
        self.sampleRate = sampleRate
        self.channelCount = channelCount
        self.encoding = encoding
    }

    /// E.g. `S16_LE 16000 Hz x1`.
    public var description: String { "\(encoding) \(sampleRate) Hz x\(channelCount)" }
}

/// A block of captured audio, already 16 kHz mono.
public struct AudioBlock: Sendable, Hashable {
    /// Samples in -1…1.
    public var samples: [Float]
    /// Capture time of the block's first sample, seconds since ``AudioSource/open()``.
    public var time: Double
    /// When the block's first sample was captured, on the monotonic clock (with a device, from
    /// what it still held when the block was read); the echo canceller lines the speaker's
    /// reference up with it.
    public var capturedFrom: ContinuousClock.Instant
    /// Whether audio was lost just before this block (the device overran and was recovered):
    /// the block does not follow on from the last.
    public var followsLoss = false
}

/// A microphone, or a file standing in for one. Blocking: driven from a thread of its own.
public protocol AudioSource: AnyObject {
    /// The PCM name or file, for status and logs.
    var name: String { get }
    /// Overruns recovered since the source was made.
    var overruns: Int { get }
    /// Opens the source and negotiates the format.
    func open() throws(DeviceError) -> AudioStreamFormat
    /// Waits for the next block, or returns `nil` at the end of a file.
    func read() throws(DeviceError) -> AudioBlock?
    /// Releases the device; ``open()`` may be called again.
    func close()
}

/// How a file source paces its media.
public enum FilePacing: String, Sendable, Hashable, CaseIterable {
    /// Each frame or block is released at its media time, like a device.
    case realtime
    /// As fast as the reader goes.
    case fast
}

/// A speaker, or a file standing in for one: 16-bit mono samples written as a reply streams
/// in. Blocking: driven from a thread of its own.
public protocol AudioSink: AnyObject {
    /// The PCM name or file, for status and logs.
    var name: String { get }
    /// Underruns recovered since the sink was made (the device ran out of samples).
    var underruns: Int { get }
    /// Opens the sink for mono audio at `sampleRate`.
    func open(sampleRate: Int) throws(DeviceError)
    /// Writes samples, blocking while the device's buffer is full (a device, or a file paced
    /// in real time).
    func write(_ samples: [Int16]) throws(DeviceError)
    /// Frames written and not yet heard (what the device still holds): the last sample written
    /// is heard that long from now.
    var pendingFrames: Int { get }
    /// Takes back what was written and has not been played yet, the latest first and at most
    /// `maxFrames`, the device running on (a stopped reply, or silence ahead of a new one, with
    /// the speaker kept running); returns the frames taken back, 0 when it cannot (then
    /// ``discard()``).
    func rewind(maxFrames: Int) -> Int
    /// Waits until everything written has played.
    func drain()
    /// Drops what was written and has not played yet (a barge-in).
    func discard()
    /// Releases the device; ``open(sampleRate:)`` may be called again.
    func close()
}
