/// 16-bit PCM WAV files in memory: for uploads, replies streamed over HTTP and tests.
public enum WAVBytes {
    /// The 44-byte header of 16-bit PCM, `channels` interleaved at `sampleRate`. With
    /// `frameCount` unknown (a stream), the sizes say `0xFFFFFFFF`, which readers (``WAVReader``
    /// among them) take as "to the end of the stream".
    public static func header(sampleRate: Int, channels: Int = 1, frameCount: Int?) -> [UInt8] {
        let blockAlign = channels * 2
        let dataBytes = frameCount.map { UInt32(clamping: $0 * blockAlign) } ?? 0xFFFF_FFFF
        var bytes = Array("RIFF".utf8)
        append(frameCount == nil ? 0xFFFF_FFFF : dataBytes &+ 36, to: &bytes)
        bytes += Array("WAVEfmt ".utf8)
        append(UInt32(16), to: &bytes)
        append(UInt16(1), to: &bytes)  // PCM
        append(UInt16(channels), to: &bytes)
        append(UInt32(sampleRate), to: &bytes)
        append(UInt32(sampleRate * blockAlign), to: &bytes)
        append(UInt16(blockAlign), to: &bytes)
        append(UInt16(16), to: &bytes)
        bytes += Array("data".utf8)
        append(dataBytes, to: &bytes)
        return bytes
    }

    /// `samples` as little-endian bytes (a WAV file's data).
    public static func payload(_ samples: [Int16]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(samples.count * 2)
        for sample in samples { append(UInt16(bitPattern: sample), to: &bytes) }
        return bytes
    }

    /// A whole file of `samples` (interleaved when `channels` > 1).
    public static func file(_ samples: [Int16], sampleRate: Int, channels: Int = 1) -> [UInt8] {
        header(sampleRate: sampleRate, channels: channels, frameCount: samples.count / channels) + payload(samples)
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}
