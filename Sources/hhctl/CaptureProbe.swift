import Devices
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
