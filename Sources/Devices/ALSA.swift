import CALSA
import VoiceCore

#if canImport(Glibc)
import Glibc
#endif

/// The text of an ALSA error code.
func alsaMessage(_ code: Int32) -> String { String(cString: snd_strerror(code)) }

/// Sample encodings the daemon reads from a capture device, in order of preference.
private let captureEncodings: [(format: snd_pcm_format_t, name: String, bytes: Int)] = [
    (SND_PCM_FORMAT_S16_LE, "S16_LE", 2),
    (SND_PCM_FORMAT_S32_LE, "S32_LE", 4),
    (SND_PCM_FORMAT_FLOAT_LE, "FLOAT_LE", 4),
]

/// Sets the hardware parameters of an open PCM: interleaved access, the first of `encodings`
/// the device takes, and the channel count, rate, period and buffer nearest to those asked for.
/// Returns what was granted.
private func configure(
    _ pcm: OpaquePointer, channels: UInt32, rate: UInt32, periodMicroseconds: UInt32, bufferMicroseconds: UInt32,
    encodings: [(format: snd_pcm_format_t, name: String, bytes: Int)]
) throws(DeviceError) -> (encoding: Int, channels: Int, rate: Int, periodFrames: Int) {
    var parameters: OpaquePointer?
    guard snd_pcm_hw_params_malloc(&parameters) == 0, let parameters else { throw .failed("out of memory") }
    defer { snd_pcm_hw_params_free(parameters) }
    func check(_ code: Int32, _ what: String) throws(DeviceError) {
        if code < 0 { throw .unsupported("\(what): \(alsaMessage(code))") }
    }
    try check(snd_pcm_hw_params_any(pcm, parameters), "no configuration")
    try check(snd_pcm_hw_params_set_access(pcm, parameters, SND_PCM_ACCESS_RW_INTERLEAVED), "interleaved access")
    guard let encoding = encodings.indices.first(where: { snd_pcm_hw_params_test_format(pcm, parameters, encodings[$0].format) == 0 }) else {
        throw .unsupported("none of the sample formats \(encodings.map(\.name).joined(separator: ", "))")
    }
    try check(snd_pcm_hw_params_set_format(pcm, parameters, encodings[encoding].format), "sample format")
    var grantedChannels = channels
    try check(snd_pcm_hw_params_set_channels_near(pcm, parameters, &grantedChannels), "channels")
    var grantedRate = rate
    var direction: Int32 = 0
    try check(snd_pcm_hw_params_set_rate_near(pcm, parameters, &grantedRate, &direction), "rate")
    var buffer = bufferMicroseconds
    try check(snd_pcm_hw_params_set_buffer_time_near(pcm, parameters, &buffer, &direction), "buffer time")
    var period = periodMicroseconds
    try check(snd_pcm_hw_params_set_period_time_near(pcm, parameters, &period, &direction), "period time")
    try check(snd_pcm_hw_params(pcm, parameters), "applying the parameters")
    var periodFrames: snd_pcm_uframes_t = 0
    try check(snd_pcm_hw_params_get_period_size(parameters, &periodFrames, &direction), "period size")
    return (encoding, Int(grantedChannels), Int(grantedRate), max(1, Int(periodFrames)))
}

/// Opens a PCM, mapping "no such device" apart from other failures.
private func openPCM(_ name: String, _ stream: snd_pcm_stream_t) throws(DeviceError) -> OpaquePointer {
    var handle: OpaquePointer?
    let code = snd_pcm_open(&handle, name, stream, 0)
    guard code >= 0, let handle else {
        if code == -ENOENT || code == -ENODEV || code == -ENXIO { throw .missing("\(name): \(alsaMessage(code))") }
        throw .failed("\(name): \(alsaMessage(code))")
    }
    return handle
}

/// A microphone through ALSA: 16 kHz mono S16_LE asked for; whatever the device grants
/// (another rate, channel count or encoding) is converted to 16 kHz mono. Overruns are
/// recovered and counted.
public final class ALSAAudioSource: AudioSource {
    /// The PCM name, e.g. `default` or `hw:1,0`.
    public let name: String
    /// Overruns recovered since the source was made.
    public private(set) var overruns = 0
    private let periodMicroseconds: UInt32
    private let bufferMicroseconds: UInt32
    private var pcm: OpaquePointer?
    private var granted = (encoding: 0, channels: 1, rate: 16_000, periodFrames: 320)
    private var converter: AudioConverter?
    private var raw: [UInt8] = []
    private var interleaved: [Float] = []
    private var samplesDelivered = 0

    /// A source on the PCM `name` with the period and buffer asked for, in milliseconds.
    public init(name: String, periodMilliseconds: Int = 20, bufferMilliseconds: Int = 1_000) {
        self.name = name
        self.periodMicroseconds = UInt32(periodMilliseconds * 1000)
        self.bufferMicroseconds = UInt32(bufferMilliseconds * 1000)
    }

    deinit { close() }

    public func open() throws(DeviceError) -> AudioStreamFormat {
        close()
        let handle = try openPCM(name, SND_PCM_STREAM_CAPTURE)
        do {
            granted = try configure(
                handle, channels: 1, rate: 16_000, periodMicroseconds: periodMicroseconds,
                bufferMicroseconds: bufferMicroseconds, encodings: captureEncodings)
        } catch {
            snd_pcm_close(handle)
            throw error
        }
        do {
            converter = try AudioConverter(sampleRate: granted.rate, channelCount: granted.channels)
        } catch {
            snd_pcm_close(handle)
            throw .unsupported("\(name): \(error)")
        }
        pcm = handle
        raw = [UInt8](repeating: 0, count: granted.periodFrames * granted.channels * captureEncodings[granted.encoding].bytes)
        samplesDelivered = 0
        return AudioStreamFormat(sampleRate: granted.rate, channelCount: granted.channels, encoding: captureEncodings[granted.encoding].name)
    }

    public func read() throws(DeviceError) -> AudioBlock? {
        guard let pcm else { throw .failed("\(name) is not open") }
        var frames = 0
        var lost = false
        while true {
            let got = raw.withUnsafeMutableBytes { snd_pcm_readi(pcm, $0.baseAddress, snd_pcm_uframes_t(granted.periodFrames)) }
            if got >= 0 { frames = got; break }
            let code = Int32(got)
            if code == -EPIPE { overruns += 1 }
            if code == -EAGAIN || code == -EINTR { continue }
            // Overrun (EPIPE) and suspend (ESTRPIPE) are recovered, losing what the device
            // captured meanwhile; a device that is gone is not.
            lost = true
            if snd_pcm_recover(pcm, code, 1) < 0 { throw .failed("\(name): \(alsaMessage(code))") }
        }
        var held: snd_pcm_sframes_t = 0
        if snd_pcm_delay(pcm, &held) != 0 { held = 0 }
        let capturedFrom = ContinuousClock.now - .microseconds((max(0, held) + frames) * 1_000_000 / granted.rate)
        decode(frames: frames)
        let time = Double(samplesDelivered) / 16_000
        guard let samples = converter?.process(interleaved: interleaved) else { throw .failed("\(name) is not open") }
        samplesDelivered += samples.count
        return AudioBlock(samples: samples, time: time, capturedFrom: capturedFrom, followsLoss: lost)
    }

    /// Decodes `frames` frames of `raw` into `interleaved` floats.
    private func decode(frames: Int) {
        let count = frames * granted.channels
        interleaved.removeAll(keepingCapacity: true)
        raw.withUnsafeBytes { bytes in
            switch granted.encoding {
            case 0: for index in 0..<count { interleaved.append(Float(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * index, as: Int16.self))) / 32_768) }
            case 1: for index in 0..<count { interleaved.append(Float(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self))) / 2_147_483_648) }
            default: for index in 0..<count { interleaved.append(Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))) }
            }
        }
    }

    public func close() {
        if let pcm { snd_pcm_close(pcm) }
        pcm = nil
    }
}

/// A speaker through ALSA, for the spoken replies of voice turns: 16-bit mono at the reply's
/// rate, written as it arrives. Underruns are recovered and counted.
public final class ALSASpeaker: AudioSink {
    /// The PCM name.
    public let name: String
    /// Underruns recovered since the speaker was made.
    public private(set) var underruns = 0
    private var pcm: OpaquePointer?

    /// A speaker on the PCM `name`.
    public init(name: String) {
        self.name = name
    }

    deinit { close() }

    public func open(sampleRate: Int) throws(DeviceError) {
        close()
        let handle = try openPCM(name, SND_PCM_STREAM_PLAYBACK)
        do throws(DeviceError) {
            let granted = try configure(
                handle, channels: 1, rate: UInt32(sampleRate), periodMicroseconds: 20_000, bufferMicroseconds: 200_000,
                encodings: [(SND_PCM_FORMAT_S16_LE, "S16_LE", 2)])
            guard granted.channels == 1, granted.rate == sampleRate else {
                throw DeviceError.unsupported("\(name) grants \(granted.channels) channel(s) at \(granted.rate) Hz, not mono at \(sampleRate) Hz (use a plug PCM)")
            }
        } catch {
            snd_pcm_close(handle)
            throw error
        }
        pcm = handle
    }

    public func write(_ samples: [Int16]) throws(DeviceError) {
        guard let pcm else { throw .failed("\(name) is not open") }
        var offset = 0
        while offset < samples.count {
            let written = samples.withUnsafeBufferPointer {
                snd_pcm_writei(pcm, $0.baseAddress! + offset, snd_pcm_uframes_t(samples.count - offset))
            }
            if written >= 0 { offset += written; continue }
            let code = Int32(written)
            if code == -EPIPE { underruns += 1 }
            if code == -EAGAIN || code == -EINTR { continue }
            if snd_pcm_recover(pcm, code, 1) < 0 { throw .failed("\(name): \(alsaMessage(code))") }
        }
    }

    public var pendingFrames: Int {
        guard let pcm else { return 0 }
        var delay: snd_pcm_sframes_t = 0
        return snd_pcm_delay(pcm, &delay) == 0 ? max(0, delay) : 0
    }

    public func rewind(maxFrames: Int) -> Int {
        guard let pcm else { return 0 }
        let rewindable = min(Int(snd_pcm_rewindable(pcm)), maxFrames)
        guard rewindable > 0 else { return 0 }
        return max(0, Int(snd_pcm_rewind(pcm, snd_pcm_uframes_t(rewindable))))
    }

    public func drain() {
        if let pcm { snd_pcm_drain(pcm) }
    }

    public func discard() {
        if let pcm {
            snd_pcm_drop(pcm)
            snd_pcm_prepare(pcm)
        }
    }

    public func close() {
        if let pcm { snd_pcm_close(pcm) }
        pcm = nil
    }

    /// Plays `samples` (mono, `sampleRate` Hz) to the end, blocking until the device has
    /// played them (`hhctl speaker-test`).
    public func play(_ samples: [Int16], sampleRate: Int) throws(DeviceError) {
        try open(sampleRate: sampleRate)
        defer { close() }
        try write(samples)
        drain()
    }
}
