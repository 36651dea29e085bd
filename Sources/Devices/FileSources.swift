import Analysis
import MediaFiles
import VitalsCore

#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// Sleeps until `deadline` on the monotonic clock.
func sleep(until deadline: Double) {
    let wait = deadline - monotonicSeconds()
    guard wait > 0 else { return }
    var request = timespec(tv_sec: Int(wait), tv_nsec: Int((wait - Double(Int(wait))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}

/// A `.y4m` file standing in for a camera, paced in real time or read as fast as possible.
public final class Y4MFileVideoSource: VideoSource {
    /// The file.
    public let name: String
    private let pacing: FilePacing
    private var reader: Y4MReader?
    private var frame: [UInt8] = []
    private var period = 1.0 / 30
    private var openedAt = 0.0

    /// A source reading `path`.
    public init(path: String, pacing: FilePacing) {
        self.name = path
        self.pacing = pacing
    }

    public func open() throws(DeviceError) -> VideoStreamFormat {
        let reader: Y4MReader
        do { reader = try Y4MReader(path: name) } catch {
            throw error.code == .io ? .missing(error.description) : .unsupported(error.description)
        }
        let header = reader.header
        if let reason = VitalsInput.unsupportedReason(width: header.width, height: header.height, framesPerSecond: header.framesPerSecond) {
            throw .unsupported("\(name): \(reason)")
        }
        self.reader = reader
        period = Double(header.frameRate.denominator) / Double(header.frameRate.numerator)
        openedAt = monotonicSeconds()
        let geometry = FrameGeometry(width: header.width, height: header.height, format: VideoAnalysis.pixelFormat(of: header.colourSpace))
        return VideoStreamFormat(geometry: geometry, range: header.fullRange ? .full : .limited, nominalFPS: 1 / period)
    }

    public func nextFrame(_ body: (UnsafeRawBufferPointer, Double) -> Void) throws(DeviceError) -> Bool {
        guard let reader else { throw .failed("\(name) is not open") }
        let more: Bool
        do { more = try reader.readFrame(into: &frame) } catch { throw .failed(error.description) }
        guard more else { return false }
        let time = Double(reader.framesRead - 1) * period
        if pacing == .realtime { sleep(until: openedAt + time) }
        frame.withUnsafeBytes { body($0, time) }
        return true
    }

    public func close() { reader = nil }
}

/// A WAV file standing in for a microphone: any layout, converted to 16 kHz mono, in blocks
/// of 20 ms, paced in real time or read as fast as possible.
public final class WAVFileAudioSource: AudioSource {
    /// The file.
    public let name: String
    /// Always 0: a file does not overrun.
    public let overruns = 0
    private let pacing: FilePacing
    private var reader: MonoAudioReader?
    private var samplesDelivered = 0
    private var openedAt = 0.0

    /// A source reading `path`.
    public init(path: String, pacing: FilePacing) {
        self.name = path
        self.pacing = pacing
    }

    public func open() throws(DeviceError) -> AudioStreamFormat {
        let reader: MonoAudioReader
        do {
            let probe = try WAVReader(path: name)
            reader = try MonoAudioReader(path: name, blockFrames: max(1, probe.format.sampleRate / 50))
        } catch {
            throw error.code == .io ? .missing(error.description) : .unsupported(error.description)
        }
        self.reader = reader
        samplesDelivered = 0
        openedAt = monotonicSeconds()
        return AudioStreamFormat(sampleRate: reader.format.sampleRate, channelCount: reader.format.channelCount, encoding: reader.format.sampleFormat.description)
    }

    public func read() throws(DeviceError) -> AudioBlock? {
        guard var reader else { throw .failed("\(name) is not open") }
        defer { self.reader = reader }
        let samples: [Float]?
        do { samples = try reader.next() } catch { throw .failed(error.description) }
        guard let samples else { return nil }
        let time = Double(samplesDelivered) / 16_000
        samplesDelivered += samples.count
        if pacing == .realtime { sleep(until: openedAt + Double(samplesDelivered) / 16_000) }
        // Released at the media time of its end, like a device's block.
        return AudioBlock(samples: samples, time: time, capturedFrom: .now - .microseconds(samples.count * 1_000_000 / 16_000))
    }

    public func close() { reader = nil }
}

/// A `.wav` file standing in for a speaker: every reply played is appended to it, so a test or
/// the demo can hear what the kiosk said. Paced in real time (a write returns when a speaker
/// would have taken it) or written as fast as it comes. The header is brought up to date after
/// each reply, so the file is whole between replies.
public final class WAVFileSpeaker: AudioSink {
    /// The file.
    public let name: String
    /// A file never runs out of samples.
    public let underruns = 0
    private let pacing: FilePacing
    private var file: UnsafeMutablePointer<FILE>?
    private var sampleRate = 16_000
    private var frames = 0
    /// Where the reply being written started, on the monotonic clock, and its frames so far.
    private var reply: (start: Double, frames: Int)?

    /// A speaker writing to `path` (created, or truncated, at the first ``open(sampleRate:)``).
    public init(path: String, pacing: FilePacing) {
        self.name = path
        self.pacing = pacing
    }

    deinit { if let file { fclose(file) } }

    public func open(sampleRate: Int) throws(DeviceError) {
        if file == nil {
            guard let created = fopen(name, "wb") else { throw .missing("\(name): \(String(cString: strerror(errno)))") }
            file = created
            self.sampleRate = sampleRate
            try writeHeader()
        } else if sampleRate != self.sampleRate {
            throw .unsupported("\(name) holds \(self.sampleRate) Hz audio, not \(sampleRate) Hz")
        }
        reply = nil
    }

    public func write(_ samples: [Int16]) throws(DeviceError) {
        guard let file else { throw .failed("\(name) is not open") }
        let now = monotonicSeconds()
        var current = reply ?? (now, 0)
        if pacing == .realtime {
            // Returns when a speaker would have taken the block: once the one before has played.
            sleep(until: current.start + Double(current.frames) / Double(sampleRate))
        }
        let bytes = WAVBytes.payload(samples)
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw .failed("\(name): \(String(cString: strerror(errno)))") }
        current.frames += samples.count
        reply = current
        frames += samples.count
    }

    /// In real time, the block being played (a write returns when the one before has played);
    /// otherwise nothing: the file takes samples at once.
    public var pendingFrames: Int {
        guard pacing == .realtime, let reply else { return 0 }
        return max(0, Int(((reply.start + Double(reply.frames) / Double(sampleRate)) - monotonicSeconds()) * Double(sampleRate)))
    }

    /// What a file has taken it keeps.
    public func rewind(maxFrames: Int) -> Int { 0 }

    public func drain() {
        if pacing == .realtime, let reply { sleep(until: reply.start + Double(reply.frames) / Double(sampleRate)) }
        try? writeHeader()
        reply = nil
    }

    public func discard() {
        try? writeHeader()
        reply = nil
    }

    public func close() {
        try? writeHeader()
        reply = nil
    }

    /// Rewrites the header with the frames written so far, and flushes.
    private func writeHeader() throws(DeviceError) {
        guard let file else { return }
        let header = WAVBytes.header(sampleRate: sampleRate, frameCount: frames)
        guard fseek(file, 0, SEEK_SET) == 0, fwrite(header, 1, header.count, file) == header.count, fseek(file, 0, SEEK_END) == 0,
            fflush(file) == 0
        else { throw .failed("\(name): \(String(cString: strerror(errno)))") }
    }
}
