// voice-bench: CPU cost of the voice activity detector per 10 ms frame, single thread, and
// beside it the kiosk's echo canceller (`EchoCancellingFilter`: speexdsp's filter and residual
// suppressor, the reference lookup and the echo judgement) on the same audio.
//
//     voice-bench [--json] [CORPUS_DIR]
//
// Reads every .wav in CORPUS_DIR (converted to 16 kHz mono up front, outside the timing), or
// 60 s of generated noise and tones without one, and runs a fresh detector over all of it
// five times. Prints the median CPU time (thread CPU clock, not wall time) per 10 ms frame,
// for the whole detector, for its feature stage alone, and for the echo canceller with the
// audio played by the speaker and heard back 5 ms later at a third of its level; and the search
// for the reference's move after the microphone lost audio (`EchoLeadFinder`, once per loss: a
// 300 ms echo path over 200 ms of sound), in milliseconds per search.
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Analysis
import ArgumentParser
import BenchmarkSupport
import EchoCancellation
import Kiosk
import VoiceCore

func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func loadCorpus(_ directory: String) -> [[Float]] {
    guard let dir = opendir(directory) else {
        print("voice-bench: cannot open \(directory)")
        exit(1)
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        if name.hasSuffix(".wav") { names.append(name) }
    }
    return names.sorted().map { name in
        var samples: [Float] = []
        do {
            var reader = try MonoAudioReader(path: directory + "/" + name)
            while let block = try reader.next() { samples += block }
        } catch {
            print("voice-bench: \(name): \(error)")
            exit(1)
        }
        return samples
    }
}

func generated() -> [[Float]] {
    var state: UInt64 = 0x1234_5678
    return [(0..<(60 * 16_000)).map { i in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let noise = Float(Int64(bitPattern: state) >> 11) / Float(1 << 52) * 0.05
        let tone = (i / 16_000) % 3 == 0 ? 0.2 * sinf(Float(i) * 2 * .pi * 180 / 16_000) : 0
        return noise + tone
    }]
}


/// The benchmark's command line.
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "voice-bench", abstract: "The voice detector's and the echo canceller's cost per 10 ms frame.")

    @Flag(help: "Print the figures as JSON.")
    var json = false
    @Argument(help: ArgumentHelp("A folder of .wav clips (default: 60 s of generated noise and tones).", valueName: "corpus-dir"))
    var corpus: String?
}

let options = Options.parseOrExit()
let json = options.json
let clips = options.corpus.map(loadCorpus) ?? generated()
let frames = clips.reduce(0) { $0 + $1.count / VoiceFeatures.hopSize }

/// CPU seconds per 10 ms frame of the echo canceller over `clips`, each played by the speaker
/// and heard back 5 ms later at a third of its level, in 20 ms blocks as the devices deliver.
func echoCancellerRun(_ clips: [[Float]]) -> Double {
    let start = threadCPUSeconds()
    var checksum: Float = 0
    for clip in clips {
        let origin = ContinuousClock.now
        func instant(_ sample: Int) -> ContinuousClock.Instant { origin + .microseconds(sample * 1_000_000 / 16_000) }
        let reference = EchoReference(origin: origin)
        var filter = EchoCancellingFilter(reference: reference, tailMilliseconds: 300)
        let played = clip.map { Int16(clamping: Int(($0 * 32_767).rounded())) }
        for offset in stride(from: 0, to: clip.count - 320 + 1, by: 320) {
            reference.played(Array(played[offset..<offset + 320]), heardFrom: instant(offset))
            let heard = (offset..<offset + 320).map { $0 >= 80 ? clip[$0 - 80] / 3 : 0 }
            checksum += filter.process(heard, capturedFrom: instant(offset)).first ?? 0
        }
    }
    if checksum.isNaN { print("the echo canceller produced NaN") }
    return (threadCPUSeconds() - start) / Double(frames) * 1e6
}

/// CPU milliseconds of one search for the reference's move after a loss, at the kiosk's sizes
/// (the canceller's 300 ms tail, 20 frames of sound).
func leadSearchRun(_ clips: [[Float]]) -> Double {
    let audio = clips.flatMap { $0 }
    let taps = 4_800, heard = 3_200
    let path = (0..<taps).map { Float(($0 * 7_919) % 201 - 100) * exp(-Float($0) / 1_000) }
    let reference = (0..<(heard + taps - 1 + 2 * EchoLeadFinder.search)).map { Int16(clamping: Int(audio[$0 % audio.count] * 32_767)) }
    let microphone = Array(reference.suffix(heard))
    let start = threadCPUSeconds()
    let lead = EchoLeadFinder.find(path: path, microphone: microphone, reference: reference)
    let elapsed = threadCPUSeconds() - start
    if lead?.correlation.isNaN == true { print("the lead search produced NaN") }
    return elapsed * 1e3
}

var detectorRuns: [Double] = [], featureRuns: [Double] = [], echoRuns: [Double] = [], leadRuns: [Double] = []
var speechFrames = 0
for _ in 0..<5 {
    let start = threadCPUSeconds()
    speechFrames = 0
    for clip in clips {
        var detector = VoiceActivityDetector()
        for offset in stride(from: 0, to: clip.count - VoiceFeatures.hopSize + 1, by: VoiceFeatures.hopSize) {
            for decision in detector.process(clip[offset..<(offset + VoiceFeatures.hopSize)]) where decision.isSpeech {
                speechFrames += 1
            }
        }
        speechFrames += detector.finish().count { $0.isSpeech }
    }
    detectorRuns.append((threadCPUSeconds() - start) / Double(frames) * 1e6)

    let featureStart = threadCPUSeconds()
    var row = [Float](repeating: 0, count: VoiceFeatures.count)
    var checksum: Float = 0
    for clip in clips {
        var features = VoiceFeatures()
        clip.withUnsafeBufferPointer { samples in
            for offset in stride(from: 0, to: clip.count - VoiceFeatures.hopSize + 1, by: VoiceFeatures.hopSize) {
                row.withUnsafeMutableBufferPointer { features.process(hop: UnsafeBufferPointer(rebasing: samples[offset..<(offset + VoiceFeatures.hopSize)]), into: $0) }
                checksum += row[0]
            }
        }
    }
    featureRuns.append((threadCPUSeconds() - featureStart) / Double(frames) * 1e6)
    if checksum.isNaN { print("features produced NaN") }
    echoRuns.append(echoCancellerRun(clips))
    leadRuns.append(leadSearchRun(clips))
}

if json {
    print("{\"frames\": \(frames), \"microseconds_per_frame\": \(median(detectorRuns)), \"feature_microseconds_per_frame\": \(median(featureRuns)), \"echo_canceller_microseconds_per_frame\": \(median(echoRuns)), \"lead_search_milliseconds\": \(median(leadRuns)), \"speech_share\": \(Double(speechFrames) / Double(frames))}")
} else {
    print("voice activity detector, \(frames) frames of 10 ms (\(clips.count) clip\(clips.count == 1 ? "" : "s")), median of 5 runs, thread CPU time:")
    print("  whole detector: \(median(detectorRuns)) µs per 10 ms frame (runs: \(detectorRuns.map { ($0 * 100).rounded() / 100 }))")
    print("  features only:  \(median(featureRuns)) µs per 10 ms frame")
    print("  echo canceller: \(median(echoRuns)) µs per 10 ms frame (runs: \(echoRuns.map { ($0 * 100).rounded() / 100 })), \(median(echoRuns) / median(detectorRuns))× the detector")
    print("  lead search after a loss: \(median(leadRuns)) ms per search (runs: \(leadRuns.map { ($0 * 100).rounded() / 100 })), \(median(leadRuns) * 1_000 / median(echoRuns)) echo-canceller frames")
}
