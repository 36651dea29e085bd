import CSpeexDSP

/// Takes the speaker's echo out of the microphone signal: speexdsp's multidelay block
/// frequency-domain adaptive filter (MDF), followed by its residual-echo suppressor. A thin
/// adapter: 16 kHz mono 16-bit frames of ``frameSize`` samples in, the same out.
///
/// Not thread-safe: one canceller per microphone, fed from the microphone's thread.
public final class SpeexEchoCanceller {
    /// Samples per frame (10 ms).
    public let frameSize: Int
    /// The echo path the filter can model, samples: the speaker's buffer, the room and the
    /// microphone's buffer together.
    public let tailLength: Int
    private let echo: OpaquePointer
    private let suppressor: OpaquePointer?
    private var output: [Int16]

    /// A canceller for audio at `sampleRate` modelling `tailMilliseconds` of echo path; with
    /// `suppressResidual`, speexdsp's preprocessor removes what echo the filter leaves (with its
    /// noise suppression, which its echo suppression works through; gain control stays off).
    public init(sampleRate: Int = 16_000, tailMilliseconds: Int = 300, suppressResidual: Bool = true) {
        frameSize = sampleRate / 100
        tailLength = sampleRate * tailMilliseconds / 1000
        echo = speex_echo_state_init(Int32(frameSize), Int32(tailLength))
        var rate = Int32(sampleRate)
        speex_echo_ctl(echo, hh_speex_echo_set_sampling_rate, &rate)
        if suppressResidual, let state = speex_preprocess_state_init(Int32(frameSize), Int32(sampleRate)) {
            speex_preprocess_ctl(state, hh_speex_preprocess_set_echo_state, UnsafeMutableRawPointer(echo))
            // The residual echo is taken out by the preprocessor's spectral gains, which it only
            // computes with noise suppression on; gain control stays off.
            var on: Int32 = 1, off: Int32 = 0
            speex_preprocess_ctl(state, hh_speex_preprocess_set_denoise, &on)
            speex_preprocess_ctl(state, hh_speex_preprocess_set_agc, &off)
            var suppressActive: Int32 = -30  // dB of residual echo taken out while the patient speaks too (speexdsp: -15)
            speex_preprocess_ctl(state, hh_speex_preprocess_set_echo_suppress_active, &suppressActive)
            suppressor = state
        } else {
            suppressor = nil
        }
        output = [Int16](repeating: 0, count: frameSize)
    }

    deinit {
        if let suppressor { speex_preprocess_state_destroy(suppressor) }
        speex_echo_state_destroy(echo)
    }

    /// The microphone frame with the echo of `reference` (what the speaker played, the same
    /// number of samples, leading the echo by less than the tail) taken out.
    ///
    /// - Precondition: both frames hold ``frameSize`` samples.
    public func process(microphone: [Int16], reference: [Int16]) -> [Int16] {
        precondition(microphone.count == frameSize && reference.count == frameSize, "frames of \(frameSize) samples")
        microphone.withUnsafeBufferPointer { mic in
            reference.withUnsafeBufferPointer { played in
                output.withUnsafeMutableBufferPointer { out in
                    speex_echo_cancellation(echo, mic.baseAddress, played.baseAddress, out.baseAddress)
                    if let suppressor { _ = speex_preprocess_run(suppressor, out.baseAddress) }
                }
            }
        }
        return output
    }

    /// Forgets the echo path learned (a new speaker or room).
    public func reset() { speex_echo_state_reset(echo) }

    /// The echo path the canceller has learned: tap `k` is how much of the reference `k`
    /// samples earlier is in the microphone's signal (``tailLength`` rounded up to whole frames,
    /// in speexdsp's integer scale, which only matters relatively).
    public func impulseResponse() -> [Float] {
        var size: Int32 = 0
        speex_echo_ctl(echo, hh_speex_echo_get_impulse_response_size, &size)
        var taps = [Int32](repeating: 0, count: Int(max(0, size)))
        taps.withUnsafeMutableBufferPointer { _ = speex_echo_ctl(echo, hh_speex_echo_get_impulse_response, $0.baseAddress) }
        return taps.map(Float.init)
    }
}
