import CESpeakNG
import Dispatch
import Glibc
import Synchronization
import VoiceCore

/// Text to speech with no cloud: eSpeak NG, resampled to 16 kHz mono 16-bit.
///
/// eSpeak NG keeps one global state, so the synthesiser runs every request on one thread of
/// its own, one after another; audio comes out in pieces of about 100 ms as it is made, so a
/// listener can start before the sentence is finished. It speaks faster than real time by
/// tens of times on one core.
public final class ESpeakSynthesizer: Sendable {
    /// The rate of the audio it delivers.
    public static let outputRate = 16_000

    private let nativeRate: Int
    private let wordsPerMinute: Int

    /// Initialises eSpeak NG (once per process: the library is global) speaking at
    /// `wordsPerMinute`.
    ///
    /// - Throws: ``SpeechEngineError`` when the library cannot find its data.
    public init(wordsPerMinute: Int = 165) throws(SpeechEngineError) {
        let rate = ESpeakLibrary.shared.sampleRate
        guard rate > 0 else { throw SpeechEngineError("eSpeak NG could not initialise (is espeak-ng-data installed?)") }
        nativeRate = rate
        self.wordsPerMinute = wordsPerMinute
    }

    /// Speaks `text` in `language` (`en`, `es`, `fr`, `de`, …; an unknown one speaks English):
    /// 16 kHz mono samples, in pieces as they are made. Stopping the iteration stops synthesis.
    public func speak(_ text: String, language: String) -> AsyncThrowingStream<[Int16], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[Int16], any Error>.makeStream(bufferingPolicy: .unbounded)
        let sink = SynthesisSink(continuation: continuation, resampler: Resampler(inputRate: nativeRate, outputRate: Self.outputRate))
        continuation.onTermination = { _ in sink.cancel() }
        let voice = Self.voice(for: language), rate = wordsPerMinute
        ESpeakLibrary.queue.async {
            ESpeakLibrary.current = sink
            defer { ESpeakLibrary.current = nil }
            if espeak_SetVoiceByName(voice) != EE_OK { _ = espeak_SetVoiceByName("en-us") }
            _ = espeak_SetParameter(espeakRATE, Int32(rate), 0)
            let status = text.withCString { pointer in
                espeak_Synth(pointer, strlen(pointer) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, nil)
            }
            if status != EE_OK, !sink.isCancelled {
                continuation.finish(throwing: SpeechEngineError("eSpeak NG failed to synthesise (status \(status.rawValue))"))
                return
            }
            sink.finish()
        }
        return stream
    }

    /// eSpeak NG's voice for a language code.
    static func voice(for language: String) -> String {
        switch language.lowercased().prefix(2) {
        case "es": "es"
        case "fr": "fr"
        case "de": "de"
        default: "en-us"
        }
    }
}

/// Where the synthesis callback sends audio: resampled, to the stream's consumer.
private final class SynthesisSink: @unchecked Sendable {
    // `resampler` is only touched on the synthesiser's queue; `cancelled` from anywhere.
    private let continuation: AsyncThrowingStream<[Int16], any Error>.Continuation
    private var resampler: Resampler
    private let cancelled = Atomic<Bool>(false)

    init(continuation: AsyncThrowingStream<[Int16], any Error>.Continuation, resampler: Resampler) {
        self.continuation = continuation
        self.resampler = resampler
    }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
    func cancel() { cancelled.store(true, ordering: .relaxed) }

    /// Takes `count` samples at eSpeak's rate; returns whether synthesis should go on.
    func receive(_ samples: UnsafePointer<Int16>, count: Int) -> Bool {
        guard !isCancelled else { return false }
        let input = (0..<count).map { Float(samples[$0]) / 32_768 }
        deliver(resampler.process(input))
        return true
    }

    func finish() {
        deliver(resampler.finish())
        continuation.finish()
    }

    private func deliver(_ samples: [Float]) {
        guard !samples.isEmpty else { return }
        continuation.yield(samples.map { Int16(max(-32_768, min(32_767, ($0 * 32_768).rounded()))) })
    }
}

/// The library's global state: initialised once, its callback routed to the sink of the
/// synthesis in progress (there is one at a time, on the library's one queue, whichever
/// synthesiser asked).
private enum ESpeakLibrary {
    /// Every call into the library runs here.
    static let queue = DispatchQueue(label: "espeak-ng")

    struct State: Sendable { let sampleRate: Int }

    static let shared: State = {
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100, nil, Int32(espeakINITIALIZE_DONT_EXIT))
        espeak_SetSynthCallback { samples, count, _ in
            guard let samples, count > 0 else { return 0 }
            return ESpeakLibrary.current?.receive(samples, count: Int(count)) == false ? 1 : 0
        }
        return State(sampleRate: Int(rate))
    }()

    /// The sink of the synthesis running now; only touched on ``queue``.
    nonisolated(unsafe) static var current: SynthesisSink?
}
