import Devices
import EchoCancellation
import Foundation

/// `hhctl capture-test`: opens a source, reads a few seconds and reports what came.
public enum CaptureProbe {
    /// Reads `seconds` of video; reports the format, frames and the fps measured from the
    /// frame timestamps.
    public static func video(_ source: any VideoSource, seconds: Double) throws(DeviceError) -> String {
        let format = try source.open()
        defer { source.close() }
        var times: [Double] = []
        var meanLevel = 0.0
        while times.last.map({ $0 < seconds }) ?? true {
            let more = try source.nextFrame { pixels, time in
                times.append(time)
                // Mean of a sparse sample of bytes: a black or frozen image shows at once.
                var sum = 0
                var count = 0
                var index = 0
                while index < pixels.count {
                    sum += Int(pixels[index])
                    count += 1
                    index += 97
                }
                meanLevel = Double(sum) / Double(max(count, 1))
            }
            if !more { break }
        }
        guard times.count >= 2, let first = times.first, let last = times.last, last > first else {
            return "\(format), \(times.count) frame(s): too few to measure"
        }
        let fps = Double(times.count - 1) / (last - first)
        return String(format: "%@, %d frames in %.1f s, measured %.2f fps, mean byte %.0f", format.description, times.count, last - first, fps, meanLevel)
    }

    /// Reads `seconds` of audio; reports the device format, RMS and peak level and overruns.
    public static func audio(_ source: any AudioSource, seconds: Double) throws(DeviceError) -> String {
        let format = try source.open()
        defer { source.close() }
        var sumSquares = 0.0
        var peak: Float = 0
        var count = 0
        let started = ContinuousClock.now
        while Double(count) < seconds * 16_000 {
            guard let block = try source.read() else { break }
            for sample in block.samples {
                sumSquares += Double(sample * sample)
                peak = max(peak, abs(sample))
            }
            count += block.samples.count
        }
        let rms = 10 * log10(max(sumSquares / Double(max(count, 1)), 1e-12))
        let peakDB = 20 * log10(max(Double(peak), 1e-6))
        return String(
            format: "%@, %.1f s read in %.1f s, level %.1f dBFS RMS, peak %.1f dBFS, %d overrun(s)",
            format.description, Double(count) / 16_000, (ContinuousClock.now - started) / .seconds(1), rms, peakDB, source.overruns)
    }
}

/// `hhctl speaker-test`: plays the echo-path probe through a speaker and, with a microphone,
/// hears it back at the same time, the two lined up by the devices' time stamps as `hhd` lines
/// up its echo canceller's reference.
public enum SpeakerProbe {
    /// What was played and heard.
    public struct Result: Sendable {
        /// The speaker's report line.
        public var speaker: String
        /// The echo path measured; `nil` without a microphone.
        public var echo: EchoPathMeasurement?
        /// Why the microphone could not be read, when it could not.
        public var microphoneError: String?
    }

    /// Plays `seconds` of the probe through `speaker` while `microphone` (if any) records.
    public static func run(speaker: any AudioSink, microphone: (any AudioSource)?, seconds: Double) throws(DeviceError) -> Result {
        let probe = EchoPathProbe.probe(seconds: seconds)
        let recording = Recording()
        var recorder: Thread?
        if let microphone {
            // The microphone opens first and records past the probe's end, for a late echo.
            do { _ = try microphone.open() } catch { recording.fail("\(error)") }
            if recording.error == nil {
                // Used by the recording thread alone from here on.
                nonisolated(unsafe) let microphone = microphone
                let thread = Thread {
                    defer { microphone.close() }
                    let end = ContinuousClock.now + .seconds(seconds + 1)
                    while ContinuousClock.now < end {
                        do {
                            guard let block = try microphone.read() else { return }
                            recording.add(block)
                        } catch {
                            recording.fail("\(error)")
                            return
                        }
                    }
                }
                thread.start()
                recorder = thread
            }
        }
        try speaker.open(sampleRate: 16_000)
        var heardFrom: ContinuousClock.Instant?
        for start in stride(from: 0, to: probe.count, by: 320) {
            let block = Array(probe[start..<min(probe.count, start + 320)])
            try speaker.write(block)
            if heardFrom == nil {
                heardFrom = .now + .microseconds((speaker.pendingFrames - block.count) * 1_000_000 / 16_000)
            }
        }
        speaker.drain()
        speaker.close()
        let line = String(format: "played %.1f s of the echo-path probe (200 Hz-4 kHz sweeps at -20 dBFS RMS), %d underrun(s)", Double(probe.count) / 16_000, speaker.underruns)
        guard let recorder, let heardFrom else { return Result(speaker: line, echo: nil, microphoneError: recording.error) }
        while !recorder.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        if let error = recording.error { return Result(speaker: line, echo: nil, microphoneError: error) }
        let (heard, offset) = recording.timeline(from: heardFrom)
        return Result(speaker: line, echo: EchoPathProbe.measure(played: probe, heard: heard, heardFrom: offset), microphoneError: nil)
    }

    /// The microphone's blocks as the recording thread hands them over.
    private final class Recording: @unchecked Sendable {
        private let lock = NSLock()
        private var blocks: [AudioBlock] = []
        private var failure: String?

        func add(_ block: AudioBlock) { lock.withLock { blocks.append(block) } }
        func fail(_ message: String) { lock.withLock { failure = message } }
        var error: String? { lock.withLock { failure } }

        /// The samples heard, as 16-bit, and where the first one falls on the timeline whose
        /// sample 0 is `origin` (the first block's stamp; the rest run on from it).
        func timeline(from origin: ContinuousClock.Instant) -> (samples: [Int16], offset: Int) {
            lock.withLock {
                guard let first = blocks.first else { return ([], 0) }
                let offset = Int((origin.duration(to: first.capturedFrom) / .seconds(1) * 16_000).rounded())
                let samples = blocks.flatMap { $0.samples.map { Int16(clamping: Int(($0 * 32_767).rounded())) } }
                return (samples, offset)
            }
        }
    }
}
