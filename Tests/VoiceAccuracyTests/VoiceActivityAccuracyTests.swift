import Analysis
import Foundation
import Testing
import VoiceCore

/// A labelled corpus that `make voice-corpus` generates (Training/voice/corpus.py): speech in
/// sixteen kinds of clinic noise at 20, 10, 5 and 0 dB SNR, the talker near or up to 3 m away in
/// a room, through a cheap microphone, some clips at 48 kHz stereo or 8 kHz; a talker at 2 m in
/// a live room ("reverb-2m"); a talker who reads on in a quiet live room ("monologue"); and 30 s
/// of each noise alone. None of it is training audio.
struct VoiceCorpus {
    struct Clip {
        var name: String
        var noise: String
        var snr: String
        var sampleRate: Int
        var speech: Bool
        var truth: [Bool]
        var decided: [Bool]
    }

    /// The synthetic voices (espeak-ng, five of them never heard in training).
    static let eval = VoiceCorpus(split: "eval")
    /// Real speakers kept out of training and model selection (Training/voice/speech_sources.py).
    static let heldout = VoiceCorpus(split: "heldout")

    let clips: [Clip]
    /// The folder the clips are in.
    let directory: String

    init(split: String) {
        let directory: String
        if let root = ProcessInfo.processInfo.environment["HH_VOICE_CORPUS"] {
            directory = root + "/" + split
        } else {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            directory = root.appendingPathComponent("out/voice-corpus/\(split)").path
        }
        self.directory = directory
        guard let text = try? String(contentsOfFile: directory + "/manifest.csv", encoding: .utf8) else {
            Issue.record("no voice corpus at \(directory): run `make voice-corpus` (make test does)")
            clips = []
            return
        }
        let rows = text.split(whereSeparator: \.isNewline).dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        clips = rows.compactMap { row -> Clip? in
            let name = row[0]
            guard let labels = try? String(contentsOfFile: "\(directory)/\(name).labels", encoding: .utf8) else {
                Issue.record("missing labels for \(name)")
                return nil
            }
            let truth = labels.trimmingCharacters(in: .whitespacesAndNewlines).map { $0 == "1" }
            do {
                let decided = try AudioAnalysis.analyze(path: "\(directory)/\(name).wav").speechFrames
                return Clip(name: name, noise: row[1], snr: row[2], sampleRate: Int(row[4]) ?? 0, speech: row[6] == "speech", truth: truth, decided: Self.aligned(decided, to: truth.count))
            } catch {
                Issue.record("\(name): \(error)")
                return nil
            }
        }
    }

    /// The talkers whose room is the difficulty, not the noise: at 2 m in a live room
    /// ("reverb-2m"), and reading on, barely pausing, in a quiet live room ("monologue").
    static let talkers: Set = ["reverb-2m", "monologue"]

    /// The speech clips, of one SNR or one kind of noise if asked; the ``talkers`` only when
    /// asked for by name.
    func speech(snr: String? = nil, noise: String? = nil) -> [Clip] {
        clips.filter { clip in
            guard clip.speech, snr == nil || clip.snr == snr else { return false }
            if let noise { return clip.noise == noise }
            return !Self.talkers.contains(clip.noise)
        }
    }

    /// Every kind of noise in the corpus (the ``talkers`` are not).
    var noiseKinds: [String] { Set(clips.map(\.noise)).subtracting(Self.talkers).sorted() }

    /// Frame-level F1 of speech, pooled over `clips`.
    static func f1(_ clips: [Clip]) -> Double {
        let (hits, decided, truth) = counts(clips)
        return 2 * Double(hits) / Double(max(1, decided + truth))
    }

    /// Share of the speech frames found, pooled over `clips`.
    static func recall(_ clips: [Clip]) -> Double {
        let (hits, _, truth) = counts(clips)
        return Double(hits) / Double(max(1, truth))
    }

    static func counts(_ clips: [Clip]) -> (hits: Int, decided: Int, truth: Int) {
        var hits = 0, decided = 0, truth = 0
        for clip in clips {
            for (d, t) in zip(clip.decided, clip.truth) {
                if d && t { hits += 1 }
                if d { decided += 1 }
                if t { truth += 1 }
            }
        }
        return (hits, decided, truth)
    }

    /// The detector's decisions cut or padded (not speech) to `count` frames, the truth's length.
    static func aligned(_ decided: [Bool], to count: Int) -> [Bool] {
        Array((decided + repeatElement(false, count: max(0, count - decided.count))).prefix(count))
    }

    /// Frame F1 of recordings that start with speech: every speech clip (the ``talkers`` too)
    /// cut to 100 ms before its first speech frame and detected from there, over the rest of the
    /// clip and over its first 3 s (`cut`); and over the same frames of the uncut clips, where the
    /// detector had heard the noise alone first (`uncut`). A cut clip is detected as `hhctl
    /// analyze audio` detects a file, primed with its opening (``VoiceActivityDetector/prime(withOpening:)``):
    /// with no noise alone in it, the noise floor is found in the pauses of the speech, as in many
    /// recordings made elsewhere.
    func startingWithSpeech() throws -> (cut: (whole: Double, firstSeconds: Double), uncut: (whole: Double, firstSeconds: Double)) {
        var cut = [Clip](), uncut = [Clip]()
        for clip in clips where clip.speech {
            guard let first = clip.truth.firstIndex(of: true) else { continue }
            let start = max(0, first - 10)
            var reader = try MonoAudioReader(path: "\(directory)/\(clip.name).wav")
            var samples: [Float] = []
            while let block = try reader.next() { samples += block }
            let recording = Array(samples.dropFirst(start * VoiceFeatures.hopSize))
            var detector = VoiceActivityDetector()
            detector.prime(withOpening: recording[...])  // as `hhctl analyze audio` does
            let decided = (detector.process(recording) + detector.finish()).map(\.isSpeech)
            let truth = Array(clip.truth[start...])
            var shortened = clip
            (shortened.truth, shortened.decided) = (truth, Self.aligned(decided, to: truth.count))
            cut.append(shortened)
            (shortened.truth, shortened.decided) = (truth, Array(clip.decided[start...]))
            uncut.append(shortened)
        }
        func firstSeconds(_ clips: [Clip]) -> [Clip] {
            clips.map { var c = $0; (c.truth, c.decided) = (Array(c.truth.prefix(300)), Array(c.decided.prefix(300))); return c }
        }
        return ((Self.f1(cut), Self.f1(firstSeconds(cut))), (Self.f1(uncut), Self.f1(firstSeconds(uncut))))
    }

    /// Flagged frames and all frames in noise-only stretches: truth 0 and at least 0.5 s from
    /// any speech.
    static func falseAlarms(_ clips: [Clip]) -> (flagged: Int, frames: Int) {
        var flagged = 0, frames = 0
        for clip in clips {
            let speech = clip.truth.indices.filter { clip.truth[$0] }
            var nearSpeech = [Bool](repeating: false, count: clip.truth.count)
            for i in speech { for j in max(0, i - 50)..<min(clip.truth.count, i + 51) { nearSpeech[j] = true } }
            for i in clip.truth.indices where !nearSpeech[i] {
                frames += 1
                if clip.decided[i] { flagged += 1 }
            }
        }
        return (flagged, frames)
    }
}

/// The synthetic voices: a regression net over every kind of noise.
@Suite struct VoiceActivityAccuracyTests {
    static let corpus = VoiceCorpus.eval

    @Test func corpusIsComplete() {
        #expect(Self.corpus.clips.count == 88)
        #expect(Self.corpus.noiseKinds.count == 16)
        #expect(Self.corpus.speech(noise: "reverb-2m").count == 4)
    }

    /// Bars a little under what the committed model scores (docs/VOICE.md), so a worse model fails.
    @Test(arguments: [("20", 0.94), ("10", 0.90), ("5", 0.88), ("0", 0.78)])
    func frameF1AtEachSNR(snr: String, bar: Double) {
        let clips = Self.corpus.speech(snr: snr)
        #expect(clips.count == 16)
        let f1 = VoiceCorpus.f1(clips)
        #expect(f1 >= bar, "F1 at \(snr) dB: \(f1)")
    }

    /// Recordings that start with speech (``VoiceCorpus/startingWithSpeech()``): measured 0.899
    /// over the clip and 0.882 over its first 3 s, where the same frames of the uncut clips score
    /// 0.908 and 0.911 (docs/VOICE.md, "Recordings that start with speech"; the model before the
    /// training clips that start with speech, unprimed: 0.893 and 0.816). The gap in the first
    /// seconds is within the 0.03 here but not on the held-out voices, so intermittent.
    @Test func recordingsThatStartWithSpeech() throws {
        let (cut, uncut) = try Self.corpus.startingWithSpeech()
        #expect(cut.whole >= 0.89 && cut.firstSeconds >= 0.87, "cut: \(cut), uncut: \(uncut)")
        withKnownIssue("issue 17: the first seconds of a recording that starts with speech", isIntermittent: true) {
            #expect(cut.firstSeconds >= uncut.firstSeconds - 0.03, "cut: \(cut), uncut: \(uncut)")
        }
    }

    /// 48 kHz stereo and 8 kHz clips (telephone band: nothing above 4 kHz) are read through the
    /// converter and stay usable; they are spread over the SNRs like the 16 kHz clips.
    /// (`ResamplerTests` checks the conversion itself.)
    @Test func convertedRatesAndChannelsStayUsable() {
        let wide = Self.corpus.speech().filter { $0.sampleRate == 48_000 }
        let narrow = Self.corpus.speech().filter { $0.sampleRate == 8_000 }
        #expect(wide.count >= 6 && narrow.count >= 6)
        #expect(VoiceCorpus.f1(wide) >= 0.78, "48 kHz stereo \(VoiceCorpus.f1(wide))")
        #expect(VoiceCorpus.f1(narrow) >= 0.75, "8 kHz \(VoiceCorpus.f1(narrow))")
    }

    /// Kinds of noise that make it flag more than 5% of their frames, or nearly (docs/VOICE.md,
    /// known limits): a television (2.1% here; 19% on independent), and distant talkers (10%
    /// here; under 5% on heldout), so the known issue may or may not be seen.
    static let speechLikeNoises: Set<String> = ["babble", "tv"]

    /// No other kind of noise (clicks, doors, coughs, paper, ringtones, beeps, music, fans…) makes
    /// it flag more than 5% of its frames, and pooled over every kind no more than the issue's 3%
    /// (`make voice-compare`, which pools the ``VoiceCorpus/talkers`` too, measured 1.0%; ringtones, the highest of the other kinds, 3.1%).
    @Test func fewFalseAlarmsInEveryKindOfNoise() {
        var flaggedTotal = 0, framesTotal = 0
        for noise in Self.corpus.noiseKinds {
            let (flagged, frames) = VoiceCorpus.falseAlarms(Self.corpus.clips.filter { $0.noise == noise })
            #expect(frames > 2_500, "\(noise): \(frames) noise-only frames")
            withKnownIssue("speech-like noise: docs/VOICE.md", isIntermittent: true) {
                #expect(Double(flagged) <= 0.05 * Double(frames), "\(noise): \(flagged) of \(frames) noise-only frames flagged")
            } when: {
                Self.speechLikeNoises.contains(noise)
            }
            flaggedTotal += flagged
            framesTotal += frames
        }
        #expect(Double(flaggedTotal) <= 0.03 * Double(framesTotal), "\(flaggedTotal) of \(framesTotal) noise-only frames flagged")
    }
}

/// Real speakers the model never heard, in training or in its selection: the figures issue 17
/// asks for (docs/VOICE.md). Each bar of the issue that is not met yet is a known issue beside a
/// lower bar that holds, so a regression still fails.
@Suite struct HeldOutRealSpeechTests {
    static let corpus = VoiceCorpus.heldout

    @Test func corpusIsComplete() {
        #expect(Self.corpus.clips.count == 88)
        #expect(Set(Self.corpus.speech().map(\.noise)).count == 16)
    }

    @Test func frameF1Overall() {
        let f1 = VoiceCorpus.f1(Self.corpus.speech())
        #expect(f1 >= 0.84, "F1 \(f1)")
        withKnownIssue("issue 17: F1 >= 0.95 on held-out real speech") { #expect(f1 >= 0.95, "F1 \(f1)") }
    }

    @Test func frameF1At0dB() {
        let f1 = VoiceCorpus.f1(Self.corpus.speech(snr: "0"))
        #expect(f1 >= 0.76, "F1 at 0 dB \(f1)")
        withKnownIssue("issue 17: F1 >= 0.90 at 0 dB") { #expect(f1 >= 0.90, "F1 at 0 dB \(f1)") }
    }

    /// The talkers whose room is the difficulty (``VoiceCorpus/talkers``), each against a floor a
    /// little under what the committed model scores: at 2 m in a live room (0.785), and reading
    /// on, barely pausing, at 0.5-2.5 m in a quiet live room, 20-40 dB over the noise (0.746;
    /// Silero v5 0.757 and TEN VAD 0.805 on the same clips, `make voice-compare`). The detector
    /// gives up on speech that goes on without a pause, as on a television (docs/VOICE.md, "A
    /// talker who reads on").
    @Test(arguments: [("reverb-2m", 0.77), ("monologue", 0.72)])
    func recallOfATalkerInALiveRoom(kind: String, floor: Double) {
        let clips = Self.corpus.speech(noise: kind)
        #expect(clips.count == 4)
        let recall = VoiceCorpus.recall(clips)
        #expect(recall >= floor, "recall, \(kind): \(recall)")
        withKnownIssue("issue 17: recall >= 0.90 on reverberant speech") { #expect(recall >= 0.90, "recall, \(kind): \(recall)") }
    }

    /// Recordings that start with speech (``VoiceCorpus/startingWithSpeech()``): measured 0.836
    /// over the clip and 0.796 over its first 3 s, where the same frames of the uncut clips score
    /// 0.853 and 0.848 (docs/VOICE.md, "Recordings that start with speech"; the model before the
    /// training clips that start with speech, unprimed: 0.835 and 0.715).
    @Test func recordingsThatStartWithSpeech() throws {
        let (cut, uncut) = try Self.corpus.startingWithSpeech()
        #expect(cut.whole >= 0.82 && cut.firstSeconds >= 0.76, "cut: \(cut), uncut: \(uncut)")
        withKnownIssue("issue 17: the first seconds of a recording that starts with speech") {
            #expect(cut.firstSeconds >= uncut.firstSeconds - 0.03, "cut: \(cut), uncut: \(uncut)")
        }
    }

    /// The issue's 3% (measured 1.9%).
    @Test func fewFalseAlarmsOverAllNoise() {
        let (flagged, frames) = VoiceCorpus.falseAlarms(Self.corpus.clips)
        #expect(Double(flagged) <= 0.03 * Double(frames), "\(flagged) of \(frames) noise-only frames flagged")
    }
}
