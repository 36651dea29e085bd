import CPocketSphinx
import Dispatch
import Glibc

/// Speech to text with no cloud: CMU PocketSphinx and its US English model (Debian's
/// `pocketsphinx-en-us`), 16 kHz mono.
///
/// Each utterance is decoded first against a grammar of the sentences that matter most (the
/// questions the offline responder answers and emergencies, ``Conversation/OfflineQuestions``),
/// which PocketSphinx hears reliably even from a synthetic voice; when the grammar finds no
/// sentence, against the general language model, which hears anything less reliably.
///
/// A decoder is not thread-safe and takes a few hundred milliseconds and tens of megabytes to
/// load, so the recogniser loads a fixed number of them at start and lends them out: each
/// decode runs on its decoder's own thread, never on Swift's cooperative pool.
public final class PocketSphinxRecognizer: Sendable {
    /// What was heard.
    public struct Transcript: Sendable, Hashable {
        /// The words, lower case; empty when nothing was recognised.
        public var text: String
        /// Which search found them.
        public var search: Search
    }

    /// The two searches.
    public enum Search: String, Sendable, Hashable {
        /// The grammar of known sentences.
        case grammar
        /// The general language model.
        case general
    }

    /// Debian's model folder.
    public static let defaultModelDirectory = "/usr/share/pocketsphinx/model/en-us"
    /// The sample rate the model was trained on.
    public static let sampleRate = 16_000

    private let pool: DecoderPool

    /// Loads `decoders` decoders of the model in `modelDirectory` (`en-us/`, `en-us.lm.bin`,
    /// `cmudict-en-us.dict`), each with the grammar `jsgf`.
    ///
    /// - Throws: ``SpeechEngineError`` when the model is missing or the grammar does not compile
    ///   (a word not in the dictionary, say).
    public init(modelDirectory: String = defaultModelDirectory, grammar jsgf: String, decoders: Int = 2) throws(SpeechEngineError) {
        var loaded: [Decoder] = []
        for index in 0..<max(1, decoders) {
            loaded.append(try Decoder(modelDirectory: modelDirectory, grammar: jsgf, index: index))
        }
        pool = DecoderPool(loaded)
    }

    /// The words in `samples` (16 kHz mono). Waits for a free decoder when all are busy.
    public func transcribe(_ samples: [Int16]) async throws(SpeechEngineError) -> Transcript {
        let decoder = await pool.borrow()
        let result = await decoder.decode(samples)
        await pool.giveBack(decoder)
        return try result.get()
    }
}

/// A speech engine could not be loaded or failed.
public struct SpeechEngineError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// One PocketSphinx decoder and the thread it runs on.
private final class Decoder: @unchecked Sendable {
    // The decoder is only touched on `queue`.
    private let decoder: OpaquePointer
    private let queue: DispatchQueue
    private let generalSearch: String
    /// The model's initial cepstral means (`-cmninit`), restored before every utterance.
    private let initialMeans: [Float]
    private static let grammarSearch = "kiosk"

    init(modelDirectory: String, grammar: String, index: Int) throws(SpeechEngineError) {
        let arguments = [
            "-hmm", modelDirectory + "/en-us", "-lm", modelDirectory + "/en-us.lm.bin", "-dict", modelDirectory + "/cmudict-en-us.dict",
            "-logfn", "/dev/null", "-cmn", "live",
            // No silence or noise words between the grammar's words: measured on synthetic speech, far
            // fewer utterances fall through the grammar to the general model (docs/CONVERSATION.md).
            "-fsgusefiller", "no",
        ]
        var cStrings = arguments.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        guard let config = cmd_ln_parse_r(nil, ps_args(), Int32(cStrings.count), &cStrings, 0) else {
            throw SpeechEngineError("PocketSphinx refused its configuration")
        }
        defer { cmd_ln_free_r(config) }
        guard let decoder = ps_init(config) else {
            throw SpeechEngineError("PocketSphinx could not load its model from \(modelDirectory) (is pocketsphinx-en-us installed?)")
        }
        guard let general = ps_get_search(decoder) else {
            ps_free(decoder)
            throw SpeechEngineError("PocketSphinx has no language model search")
        }
        generalSearch = String(cString: general)
        guard ps_set_jsgf_string(decoder, Self.grammarSearch, grammar) == 0 else {
            ps_free(decoder)
            throw SpeechEngineError("PocketSphinx could not compile the grammar (a word missing from its dictionary?)")
        }
        guard let cmn = ps_get_feat(decoder)?.pointee.cmn_struct else {
            ps_free(decoder)
            throw SpeechEngineError("PocketSphinx has no cepstral mean normalisation to reset")
        }
        var means = [Float](repeating: 0, count: Int(cmn.pointee.veclen))
        cmn_live_get(cmn, &means)
        initialMeans = means
        self.decoder = decoder
        queue = DispatchQueue(label: "pocketsphinx-\(index)")
    }

    deinit { ps_free(decoder) }

    func decode(_ samples: [Int16]) async -> Result<PocketSphinxRecognizer.Transcript, SpeechEngineError> {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.decodeNow(samples)) }
        }
    }

    /// One search over the utterance: its words, fillers removed.
    private func run(_ search: String, on samples: [Int16]) -> String? {
        // Live normalisation learns from each utterance; across patients (and across the two
        // searches of one utterance) that drifts: every decode starts from the model's means.
        if let cmn = ps_get_feat(decoder)?.pointee.cmn_struct { cmn_live_set(cmn, initialMeans) }
        // So does the front end's noise estimate, which only a new stream resets: without this
        // the same audio was heard differently depending on the turns decoded before it.
        guard ps_start_stream(decoder) == 0, ps_set_search(decoder, search) == 0, ps_start_utt(decoder) == 0 else { return nil }
        let processed = samples.withUnsafeBufferPointer { ps_process_raw(decoder, $0.baseAddress, $0.count, 0, 0) }
        ps_end_utt(decoder)
        guard processed >= 0 else { return nil }
        var score: Int32 = 0
        let text = ps_get_hyp(decoder, &score).map { String(cString: $0) } ?? ""
        let words = text.split(separator: " ").filter { !$0.hasPrefix("<") && !$0.hasPrefix("[") && !$0.hasPrefix("++") }
        return words.joined(separator: " ")
    }

    private func decodeNow(_ samples: [Int16]) -> Result<PocketSphinxRecognizer.Transcript, SpeechEngineError> {
        guard let grammar = run(Self.grammarSearch, on: samples) else {
            return .failure(SpeechEngineError("PocketSphinx failed to decode the audio"))
        }
        if !grammar.isEmpty { return .success(.init(text: grammar, search: .grammar)) }
        guard let general = run(generalSearch, on: samples) else {
            return .failure(SpeechEngineError("PocketSphinx failed to decode the audio"))
        }
        return .success(.init(text: general, search: .general))
    }
}

/// Lends decoders out one task at a time; tasks wait in order when all are busy.
private actor DecoderPool {
    private var free: [Decoder]
    private var waiting: [CheckedContinuation<Decoder, Never>] = []

    init(_ decoders: [Decoder]) { free = decoders }

    func borrow() async -> Decoder {
        if let decoder = free.popLast() { return decoder }
        return await withCheckedContinuation { waiting.append($0) }
    }

    func giveBack(_ decoder: Decoder) {
        if waiting.isEmpty { free.append(decoder) } else { waiting.removeFirst().resume(returning: decoder) }
    }
}
