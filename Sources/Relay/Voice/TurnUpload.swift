import Foundation
import HHProtocol
import Hummingbird
import MediaFiles
import NIOCore
import VoiceCore

/// `POST /v1/sessions/{id}/turns`: the multipart body read, checked and converted, before
/// anything is stored or any provider is called.
public enum TurnUpload {
    /// A turn as the pipeline takes it.
    public struct Parsed: Sendable {
        /// The `turn` part.
        public var request: VoiceTurnRequest
        /// The utterance, 16 kHz mono.
        public var audio: UtteranceAudio
        /// SHA-256 of the `audio` part's bytes, hex.
        public var audioDigest: String
        /// The `audio` part as uploaded (kept only where audio is retained).
        public var audioBytes: [UInt8]
        /// The language to answer in (`en` when the kiosk said none).
        public var language: String { request.language ?? "en" }
    }

    /// The longest utterance accepted.
    public static let maximumSeconds = 30.0
    /// The largest `turn` part.
    static let maximumTurnPartBytes = 4_096

    /// Reads `body`, sent with `contentType`.
    ///
    /// - Throws: ``APIError`` 415 for a body that is not `multipart/form-data`; 400 `malformed`
    ///   for a broken multipart body or `turn` part, `invalid` for impossible values,
    ///   `not_wav`, `truncated_audio`, `unsupported_audio`, `empty_audio`; 413
    ///   `audio_too_long`; 422 `silent_audio`.
    public static func parse(_ body: ByteBuffer, contentType: String?) throws(APIError) -> Parsed {
        let parts = try multipartParts(body, contentType: contentType)
        guard let turnPart = parts["turn"] else { throw APIError(.badRequest, "malformed", "the part \"turn\" is missing") }
        guard let audioPart = parts["audio"] else { throw APIError(.badRequest, "malformed", "the part \"audio\" is missing") }
        let request = try turnRequest(turnPart)
        let audio = try utterance(audioPart)
        return Parsed(request: request, audio: audio, audioDigest: sha256Hex(Data(audioPart)), audioBytes: audioPart)
    }

    /// The parts of a `multipart/form-data` body by name: exactly `turn` and `audio`, once each.
    static func multipartParts(_ body: ByteBuffer, contentType: String?) throws(APIError) -> [String: [UInt8]] {
        guard let contentType, let boundary = boundary(of: contentType) else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "send multipart/form-data with a boundary (parts turn and audio)")
        }
        let found: [MultipartForm.Part]
        do { found = try MultipartForm.parts(of: Array(body.readableBytesView), boundary: boundary) } catch {
            throw APIError(.badRequest, "malformed", "not a valid multipart body: \(error.description)")
        }
        var parts: [String: [UInt8]] = [:]
        for part in found {
            guard let name = part.name else { throw APIError(.badRequest, "malformed", "a part has no Content-Disposition name") }
            guard name == "turn" || name == "audio" else { throw APIError(.badRequest, "malformed", "unexpected part \"\(name)\" (only turn and audio)") }
            guard parts[name] == nil else { throw APIError(.badRequest, "malformed", "the part \"\(name)\" is sent twice") }
            if name == "turn", part.bytes.count > maximumTurnPartBytes {
                throw APIError(.badRequest, "malformed", "the part \"turn\" is longer than \(maximumTurnPartBytes) bytes")
            }
            parts[name] = part.bytes
        }
        return parts
    }

    /// The boundary parameter of a `multipart/form-data` content type (1 to 70 characters).
    static func boundary(of contentType: String) -> String? {
        let fields = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.first?.lowercased() == "multipart/form-data" else { return nil }
        for field in fields.dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return (1...70).contains(value.utf8.count) ? value : nil
        }
        return nil
    }

    /// The `turn` part, strictly read and checked.
    static func turnRequest(_ bytes: [UInt8]) throws(APIError) -> VoiceTurnRequest {
        do { try StrictJSON.check(bytes, shape: VoiceTurnRequest.shape) } catch {
            throw APIError(.badRequest, "malformed", "the turn part: \(error.description)")
        }
        let request: VoiceTurnRequest
        do {
            request = try WireJSON.decoder().decode(VoiceTurnRequest.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw APIError(.badRequest, "malformed", "the turn part: \(error.relayDescription)")
        } catch {
            throw APIError(.badRequest, "malformed", "the turn part is unreadable")
        }
        var problems: [String] = []
        if UUID(uuidString: request.id) == nil { problems.append("id must be a UUID") }
        if let language = request.language, !isLanguageTag(language) { problems.append("language must be a BCP 47 tag such as en or es-MX") }
        let year = Calendar(identifier: .gregorian).component(.year, from: request.startedAt)
        if !(1970...2100).contains(year) { problems.append("started_at must be between 1970 and 2100") }
        if let vitals = request.vitals {
            if let rate = vitals.heartRateBpm, !(20...260).contains(rate) { problems.append("vitals.heart_rate_bpm must be 20 to 260") }
            if let snr = vitals.heartRateSnrDb, !(-60...100).contains(snr) { problems.append("vitals.heart_rate_snr_db must be -60 to 100") }
            if let rate = vitals.respirationBpm, !(2...80).contains(rate) { problems.append("vitals.respiration_bpm must be 2 to 80") }
        }
        guard problems.isEmpty else { throw APIError(.badRequest, "invalid", problems.joined(separator: "; ")) }
        return request
    }

    /// `en`, `es-MX`, `zh-Hant`: letters and digits in hyphenated pieces of 1 to 8.
    static func isLanguageTag(_ text: String) -> Bool {
        let pieces = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = pieces.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }) else { return false }
        return text.utf8.count <= 35 && pieces.dropFirst().allSatisfy { (1...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
    }

    /// The `audio` part decoded and converted to 16 kHz mono.
    static func utterance(_ bytes: [UInt8]) throws(APIError) -> UtteranceAudio {
        guard !bytes.isEmpty else { throw APIError(.badRequest, "empty_audio", "the audio part is empty") }
        let reader: WAVReader
        do { reader = try WAVReader(bytes: bytes, name: "the audio part") } catch {
            throw audioError(error)
        }
        let format = reader.format
        if let frames = reader.frameCount, Double(frames) / Double(format.sampleRate) > maximumSeconds {
            throw APIError(.contentTooLarge, "audio_too_long", "the audio lasts \(Int(Double(frames) / Double(format.sampleRate))) s; at most \(Int(maximumSeconds)) s")
        }
        // A data chunk of unrecorded size is read to its end: the limit is checked as it goes.
        let maximumSamples = Int(maximumSeconds) * UtteranceAudio.sampleRate
        let tooLong = APIError(.contentTooLarge, "audio_too_long", "the audio lasts more than \(Int(maximumSeconds)) s")
        var samples: [Int16] = []
        if format == WAVFormat(sampleRate: UtteranceAudio.sampleRate, channelCount: 1, sampleFormat: .signed16) {
            // What a kiosk sends: taken as it is.
            while true {
                let frames: Int
                do { frames = try reader.read(maximumFrames: 8_192, appendingTo: &samples) } catch { throw audioError(error) }
                guard frames > 0 else { break }
                guard samples.count <= maximumSamples else { throw tooLong }
            }
        } else {
            var converter: AudioConverter
            do { converter = try AudioConverter(sampleRate: format.sampleRate, channelCount: format.channelCount, outputRate: UtteranceAudio.sampleRate) } catch {
                throw APIError(.badRequest, "unsupported_audio", "the audio cannot be used: \(error.description)")
            }
            var mono: [Float] = []
            var block: [Float] = []
            while true {
                let frames: Int
                do { frames = try reader.read(maximumFrames: 8_192, into: &block) } catch { throw audioError(error) }
                guard frames > 0 else { break }
                mono += converter.process(interleaved: block)
                guard mono.count <= maximumSamples else { throw tooLong }
            }
            mono += converter.finish()
            samples = mono.map { Int16(max(-32_768, min(32_767, ($0 * 32_768).rounded()))) }
        }
        guard !samples.isEmpty else { throw APIError(.badRequest, "empty_audio", "the audio part holds no samples") }
        guard !TurnAudioLevel.isSilent(samples) else {
            throw APIError(.unprocessableContent, "silent_audio", "the audio is silent (nothing above about -50 dBFS): is the microphone muted?")
        }
        return UtteranceAudio(samples: samples)
    }

    private static func audioError(_ error: MediaFileError) -> APIError {
        if error.code == .truncated { return APIError(.badRequest, "truncated_audio", "the audio part is cut short: \(error.message)") }
        if error.code == .unsupported { return APIError(.badRequest, "unsupported_audio", "the audio part: \(error.message)") }
        return APIError(.badRequest, "not_wav", "the audio part is not a WAV file: \(error.message)")
    }
}
