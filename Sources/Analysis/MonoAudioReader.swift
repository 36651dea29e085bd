import MediaFiles
import VoiceCore

/// Reads a WAV file of any layout as the 16 kHz mono audio the voice engine reads, a block at
/// a time: ``WAVReader`` then ``AudioConverter``.
///
/// Not thread-safe: owned by one reader at a time.
public struct MonoAudioReader {
    /// The file's own sample layout.
    public let format: WAVFormat
    /// Frames (at the file's rate) read so far.
    public private(set) var framesRead = 0
    /// The file's duration so far, in seconds.
    public var secondsRead: Double { Double(framesRead) / Double(format.sampleRate) }

    private let reader: WAVReader
    private var converter: AudioConverter
    private var block: [Float] = []
    private var flushed = false
    private let blockFrames: Int

    /// Opens `path` and reads its header; ``next()`` reads up to `blockFrames` frames (at the
    /// file's rate) at a time.
    ///
    /// - Throws: ``MediaFileError`` for a file that is missing, not a WAV file or malformed, or
    ///   whose rate or channel count the voice engine cannot use (before anything is allocated).
    public init(path: String, blockFrames: Int = 8192) throws(MediaFileError) {
        self.blockFrames = max(1, blockFrames)
        reader = try WAVReader(path: path)
        format = reader.format
        do {
            converter = try AudioConverter(sampleRate: format.sampleRate, channelCount: format.channelCount)
        } catch {
            throw MediaFileError(.unsupported, error.description)
        }
    }

    /// The next block of 16 kHz mono samples (it may be empty while the resampler fills), or
    /// `nil` after the last.
    ///
    /// - Throws: ``MediaFileError`` when the file is truncated or unreadable; every sample
    ///   before that point has been returned.
    public mutating func next() throws(MediaFileError) -> [Float]? {
        guard !flushed else { return nil }
        let got = try reader.read(maximumFrames: blockFrames, into: &block)
        if got > 0 {
            framesRead += got
            return converter.process(interleaved: block)
        }
        flushed = true
        return converter.finish()
    }
}
