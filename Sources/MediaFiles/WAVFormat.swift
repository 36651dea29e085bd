/// How one sample is stored in a WAV file.
public enum WAVSampleFormat: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// 8-bit unsigned integer PCM (silence is 128).
    case unsigned8
    /// 16-bit signed little-endian integer PCM.
    case signed16
    /// 24-bit signed little-endian integer PCM, packed in 3 bytes.
    case signed24
    /// 32-bit signed little-endian integer PCM.
    case signed32
    /// 32-bit IEEE float, nominally within -1...1.
    case float32
    /// 64-bit IEEE float, nominally within -1...1.
    case float64

    /// Bytes one sample of one channel takes.
    public var bytesPerSample: Int {
        switch self {
        case .unsigned8: 1
        case .signed16: 2
        case .signed24: 3
        case .signed32, .float32: 4
        case .float64: 8
        }
    }

    /// Whether samples are IEEE floats (format tag 3) rather than integer PCM (format tag 1).
    public var isFloat: Bool { self == .float32 || self == .float64 }

    public var description: String {
        switch self {
        case .unsigned8: "8-bit PCM"
        case .signed16: "16-bit PCM"
        case .signed24: "24-bit PCM"
        case .signed32: "32-bit PCM"
        case .float32: "32-bit float"
        case .float64: "64-bit float"
        }
    }

    /// The format for integer PCM of `bits` bits per sample, or float when `isFloat`.
    init?(bits: Int, isFloat: Bool) {
        switch (bits, isFloat) {
        case (8, false): self = .unsigned8
        case (16, false): self = .signed16
        case (24, false): self = .signed24
        case (32, false): self = .signed32
        case (32, true): self = .float32
        case (64, true): self = .float64
        default: return nil
        }
    }
}

/// The layout of the audio in a WAV file.
public struct WAVFormat: Hashable, Sendable, CustomStringConvertible {
    /// Frames (one sample per channel) per second.
    public var sampleRate: Int
    /// Interleaved channels per frame.
    public var channelCount: Int
    /// How each sample is stored.
    public var sampleFormat: WAVSampleFormat

    /// A format of `channelCount` channels at `sampleRate` Hz, stored as `sampleFormat`.
    public init(sampleRate: Int, channelCount: Int, sampleFormat: WAVSampleFormat) {
        self.sampleRate = sampleRate
        self.channelCount = channelCount
        self.sampleFormat = sampleFormat
    }

    /// Bytes one frame (all channels) takes.
    public var bytesPerFrame: Int { channelCount * sampleFormat.bytesPerSample }

    public var description: String {
        "\(sampleRate) Hz, \(channelCount) channel\(channelCount == 1 ? "" : "s"), \(sampleFormat)"
    }
}

/// Converting between stored samples and floats in -1...1.
enum WAVSampleCoding {
    /// Decodes `count` samples of `format` from `bytes` and appends them to `samples`.
    static func decode(
        _ bytes: UnsafeRawBufferPointer, count: Int, format: WAVSampleFormat, appendingTo samples: inout [Float]
    ) {
        samples.reserveCapacity(samples.count + count)
        switch format {
        case .unsigned8:
            for i in 0..<count { samples.append((Float(bytes[i]) - 128) / 128) }
        case .signed16:
            for i in 0..<count {
                let value = Int16(bitPattern: UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8)
                samples.append(Float(value) / 32768)
            }
        case .signed24:
            for i in 0..<count {
                let unsigned = UInt32(bytes[3 * i]) << 8 | UInt32(bytes[3 * i + 1]) << 16 | UInt32(bytes[3 * i + 2]) << 24
                samples.append(Float(Int32(bitPattern: unsigned) >> 8) / 8_388_608)
            }
        case .signed32:
            for i in 0..<count {
                samples.append(Float(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) / 2_147_483_648)
            }
        case .float32:
            for i in 0..<count {
                let bits = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                samples.append(Float(bitPattern: bits))
            }
        case .float64:
            for i in 0..<count {
                let bits = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                samples.append(Float(Double(bitPattern: bits)))
            }
        }
    }

    /// Encodes `samples` (clipped to -1...1 for integer formats, rounded) as `format`.
    static func encode(_ samples: [Float], format: WAVSampleFormat, appendingTo bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + samples.count * format.bytesPerSample)
        func quantised(_ sample: Float, scale: Double, low: Double, high: Double) -> Int64 {
            let value = (Double(sample) * scale).rounded()
            return value.isNaN ? 0 : Int64(min(max(value, low), high))
        }
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        for sample in samples {
            switch format {
            case .unsigned8:
                bytes.append(UInt8(quantised(sample, scale: 128, low: -128, high: 127) + 128))
            case .signed16:
                append(Int16(quantised(sample, scale: 32768, low: -32768, high: 32767)))
            case .signed24:
                let value = UInt32(bitPattern: Int32(quantised(sample, scale: 8_388_608, low: -8_388_608, high: 8_388_607)))
                bytes.append(UInt8(truncatingIfNeeded: value))
                bytes.append(UInt8(truncatingIfNeeded: value >> 8))
                bytes.append(UInt8(truncatingIfNeeded: value >> 16))
            case .signed32:
                append(Int32(quantised(sample, scale: 2_147_483_648, low: -2_147_483_648, high: 2_147_483_647)))
            case .float32:
                append(sample.bitPattern)
            case .float64:
                append(Double(sample).bitPattern)
            }
        }
    }
}
