import EchoCancellation
import Foundation
import Kiosk
import KioskControl
import MediaFiles
import TestSupport
import Testing
import VoiceCore

/// The kiosk must not hear itself: replies played into a simulated room and heard back by the
/// microphone, through the filter the microphone thread runs (`EchoCancellingFilter` with the
/// speaker's `EchoReference`), then the voice engine.
///
/// The timeline: the speaker writes 20 ms blocks ahead of time, each stamped with when it will be
/// heard, and the microphone reads 20 ms blocks stamped with when they were captured, as the
/// devices report them: with a few milliseconds of jitter on every stamp. The room: what the
/// speaker plays reaches the microphone `acousticDelay` later than the stamps say (travel, and
/// converter latency no device reports), through a response with a direct path, a close
/// reflection and an exponentially decaying tail (RT60 0.3 s, 150 ms long), at `echoGain`, over
/// room noise. One canceller hears all the replies in turn, as on a kiosk. Voices and rooms are
/// split: the tuning set chose the defaults; the held-out set never chose anything, and is
/// reported apart.
@Suite(.serialized) struct EchoCancellationTests {
    struct Room {
        var acousticDelay: Int
        var echoGain: Float
        var seed: UInt64
        var noiseLevel: Float = 0.0005  // about -66 dBFS
        /// How much later than the truth the microphone's stamps say its blocks were captured,
        /// always (samples; negative: earlier, so the echo comes before its reference).
        var stampOffset = 0
        /// When set, one microphone stamp in about this many blocks is late by 15 to 250 ms (a
        /// capture thread scheduled late, as in the package VM test).
        var lateStampEvery: Int?
        /// When set, the microphone loses 60 to 200 ms of audio once in about this many blocks
        /// (an overrun; the filter is told, as hhd tells it).
        var lossEvery: Int?

        /// The response: a direct path, then a decaying diffuse tail.
        var response: [Float] {
            var random = SplitMix64(seed: seed)
            let decay = log(1000) / (0.3 * 16_000)  // -60 dB in 0.3 s
            var taps = (0..<2_400).map { index in Float(random.nextGaussian() * 0.03 * exp(-decay * Double(index))) }
            taps[0] = 1
            taps[37] += 0.4  // a wall close by
            return taps
        }
    }

    /// `text` spoken by eSpeak NG with `voice`, 16 kHz mono, peak at `level` of full scale.
    static func speech(_ text: String, voice: String, level: Double = 0.5) throws -> [Float] {
        let path = NSTemporaryDirectory() + "echo-\(UUID().uuidString.prefix(8)).wav"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try run("/usr/bin/espeak-ng", ["-v", voice, "-s", "160", "-w", path, text])
        precondition(result.status == 0, result.stderr)
        let reader = try WAVReader(path: path)
        var converter = try AudioConverter(sampleRate: reader.format.sampleRate, channelCount: reader.format.channelCount, outputRate: 16_000)
        var samples: [Float] = []
        while case let block = try reader.read(maximumFrames: 8_192), !block.isEmpty { samples += converter.process(interleaved: block) }
        samples += converter.finish()
        let peak = samples.map(abs).max() ?? 1
        return samples.map { $0 / peak * Float(level) }
    }

    static func int16(_ samples: [Float]) -> [Int16] { samples.map { Int16(clamping: Int(($0 * 32_767).rounded())) } }

    static let replies: [String] = [
        "Your heart rate was about seventy two beats per minute, a clear reading.",
        "The pharmacy is on the ground floor, next to the main entrance.",
        "A clinician will look at your results with you in a few minutes.",
        "Please stay in front of the camera while I finish the measurement.",
        "The clinic is open from eight in the morning until six in the evening.",
        "Your breathing rate was about fourteen breaths per minute.",
        "The waiting room is down the corridor on your left.",
        "This reading is less reliable because the light changed.",
        "You can book an appointment at the reception desk.",
        "Thank you. Please take a seat and a nurse will call you.",
    ]
    /// A condition: the reply voices, the patient's voices, the room and the microphone's stamps.
    /// The tuning set chose the defaults (tail, thresholds). The first held-out set was looked at once, and showed the
    /// canceller trusted too early (a reply's ERLE of 20 dB): it is not blind any more. The
    /// second held-out set was added then and chose nothing; the third, with a louder echo than
    /// any before, later. All four were looked at when the barge-in amount (40 ms) and the
    /// filter's loudness rule (`EchoCancellingFilter.patientOverRoom`) were chosen. Held-out 4
    /// and 5 and the two noisy rooms (room noise at -50 and -54 dBFS, against -68 to -60) were
    /// added after that choice and chose nothing. The last four test the devices: one microphone
    /// stamp in a hundred 15 to 250 ms late; the microphone losing 60-200 ms of audio about once
    /// in 30 s (the reference restarts from the stamps, and is moved back to the echo the canceller learned); 150 ms of latency the devices do not
    /// report (the echo comes that much after its reference); the microphone's stamps 80 ms early
    /// (the echo comes before its reference, where the canceller cannot model it). They came with
    /// the rules they test (`EchoReference.persistence`, `EchoLeadFinder` after a loss, the echo's
    /// realignment by `EchoDelayEstimator`); the last two chose the realignment's threshold. A
    /// condition that fails is run as a known issue, so it is measured and reported on every run
    /// without tuning anything.
    struct Condition: Sendable, CustomStringConvertible {
        var name: String
        var replyVoices: [String]
        var patientVoices: [String]
        var room: Room
        /// Why the condition is known to hear itself with no patient speaking, while it does (the
        /// issue it is tracked in); its barge-in must hold all the same.
        var knownIssue: String?
        /// Whether the echo is out of the canceller's reach, so the filter must move the reference
        /// to it (and must not otherwise).
        var realigns = false
        var description: String { name }
    }

    static let conditions = [
        Condition(name: "tuning", replyVoices: ["en-us", "en-gb-x-rp"], patientVoices: ["en-us+m3", "en-gb"], room: Room(acousticDelay: 48, echoGain: 0.4, seed: 1)),
        Condition(name: "held-out 1", replyVoices: ["en-us+f3", "en-gb-scotland", "en-029"], patientVoices: ["en-us+m7", "en-gb-x-gbclan"], room: Room(acousticDelay: 96, echoGain: 0.5, seed: 2)),
        Condition(name: "held-out 2", replyVoices: ["en-gb-x-gbcwmd", "en-us+f2"], patientVoices: ["en-029+m2", "en-us+f4"], room: Room(acousticDelay: 200, echoGain: 0.3, seed: 3, noiseLevel: 0.001)),
        Condition(name: "held-out 3", replyVoices: ["en-gb-x-rp+f4", "en-us+m5"], patientVoices: ["en-gb-scotland+m4", "en-us+f1", "en-029"], room: Room(acousticDelay: 130, echoGain: 0.6, seed: 4, noiseLevel: 0.0008)),
        Condition(name: "held-out 4", replyVoices: ["en-us-nyc", "en-gb-x-gbclan+f2"], patientVoices: ["en-gb+m6", "en-us+f5"], room: Room(acousticDelay: 64, echoGain: 0.45, seed: 5, noiseLevel: 0.0006)),
        Condition(name: "held-out 5", replyVoices: ["en-029+f1", "en-gb-scotland+m2"], patientVoices: ["en-us-nyc+m1", "en-gb-x-gbcwmd+f3"], room: Room(acousticDelay: 176, echoGain: 0.35, seed: 6, noiseLevel: 0.0004)),
        Condition(name: "noisy room 1", replyVoices: ["en-us", "en-gb-x-rp"], patientVoices: ["en-us+m3", "en-gb"], room: Room(acousticDelay: 48, echoGain: 0.4, seed: 1, noiseLevel: 0.003),
            knownIssue: "issues 13 and 17: in a noisy room (-50 dBFS) the voice detector hears the room once, a second after a reply, with the speaker silent"),
        Condition(name: "noisy room 2", replyVoices: ["en-029+f1", "en-gb-scotland+m2"], patientVoices: ["en-us-nyc+m1", "en-gb-x-gbcwmd+f3"], room: Room(acousticDelay: 176, echoGain: 0.35, seed: 6, noiseLevel: 0.002)),
        Condition(name: "late stamps", replyVoices: ["en-gb-x-rp+f4", "en-us-nyc"], patientVoices: ["en-us+m7", "en-gb-x-gbcwmd+f3"], room: Room(acousticDelay: 80, echoGain: 0.45, seed: 8, lateStampEvery: 100)),
        Condition(name: "lost audio", replyVoices: ["en-us+f4", "en-gb-x-gbclan+m2"], patientVoices: ["en-029+f1", "en-gb+m6"], room: Room(acousticDelay: 70, echoGain: 0.4, seed: 11, lossEvery: 1_500)),
        Condition(name: "slow devices", replyVoices: ["en-gb-scotland", "en-us+f2"], patientVoices: ["en-029+m2", "en-gb+m6"], room: Room(acousticDelay: 2_400, echoGain: 0.4, seed: 9), realigns: true),
        Condition(name: "early stamps", replyVoices: ["en-us+m5", "en-gb-x-gbclan"], patientVoices: ["en-gb-scotland+m4", "en-us+f1"], room: Room(acousticDelay: 100, echoGain: 0.4, seed: 10, stampOffset: -1_280), realigns: true),
    ]

    /// A visit's audio on one timeline: replies (speaker) and the patient (microphone).
    struct Visit {
        var speaker: [Int16] = []
        var patient: [Float] = []
        /// Where each reply starts and ends on the timeline.
        var replies: [Range<Int>] = []

        mutating func pause(_ samples: Int) {
            speaker += [Int16](repeating: 0, count: samples)
            patient += [Float](repeating: 0, count: samples)
        }

        mutating func reply(_ samples: [Int16]) {
            replies.append(speaker.count..<speaker.count + samples.count)
            speaker += samples
            patient += [Float](repeating: 0, count: samples.count)
        }
    }

    /// What the voice engine is handed, and what it found, when `visit` plays in `room`.
    struct Hearing {
        var utterances: [Utterance] = []
        /// The ERLE of each reply, as the filter reported it after the reply.
        var erles: [Double] = []
        /// Timeline samples at which the voice engine had heard `bargeInSpeech` of speech in an
        /// open utterance (a barge-in).
        var bargeIns: [Int] = []
        var learned = false
        /// The lags (frames) the filter found out of the canceller's reach and moved the
        /// reference from.
        var realignments: [Int] = []
        /// The microphone's losses of audio.
        var losses = 0
    }

    /// Runs `visit` through the room, the devices' stamps (jittered by up to 2 ms), the filter
    /// (or none) and one voice engine. With the canceller, a barge-in stops the reply as the
    /// kiosk does: 20 ms after the voice engine heard it, the rest of the reply is taken back
    /// from the speaker (and the reference) and not played.
    static func hear(_ visit: Visit, in room: Room, cancelling: Bool, jitterSeed: UInt64) -> Hearing {
        let block = 320
        let origin = ContinuousClock.now
        func instant(_ sample: Int) -> ContinuousClock.Instant { origin + .microseconds(sample * 1_000_000 / 16_000) }
        var random = SplitMix64(seed: jitterSeed)
        let amplitude = 32  // 2 ms
        func jitter() -> Int { Int.random(in: -amplitude...amplitude, using: &random) }
        var noise = SplitMix64(seed: room.seed &+ 1)
        var lateness = SplitMix64(seed: room.seed &+ 2)
        var losses = SplitMix64(seed: room.seed &+ 3)
        var lostBlocks = 0, followsLoss = false
        func stampError() -> Int {
            guard let every = room.lateStampEvery, Int.random(in: 0..<every, using: &lateness) == 0 else { return room.stampOffset }
            return room.stampOffset + Int.random(in: 240...4_000, using: &lateness)
        }
        let response = room.response
        var speaker = visit.speaker
        let length = (speaker.count + block - 1) / block * block
        var echo = [Float](repeating: 0, count: length + room.acousticDelay + response.count)
        var heardUpTo = 0  // speaker samples whose echo is in `echo`
        let reference = EchoReference(origin: origin)
        var filter = EchoCancellingFilter(reference: reference, tailMilliseconds: KioskConfiguration().echoTailMs)
        var segmenter = UtteranceSegmenter()
        let bargeInSpeech = KioskConfiguration().bargeInSpeech
        var hearing = Hearing()
        var written = 0, heard = 0, reported = false
        var repliesSeen = 0
        while heard < length {
            // The speaker keeps 100 ms written ahead of the microphone.
            while written < min(speaker.count, heard + block + 1_600) {
                let end = min(speaker.count, written + block)
                reference.played(Array(speaker[written..<end]), heardFrom: instant(written + jitter()))
                written = end
            }
            // The room carries to the microphone what the speaker has played by the block's end.
            while heardUpTo < min(speaker.count, heard + block - room.acousticDelay) {
                let sample = Float(speaker[heardUpTo]) * room.echoGain
                if sample != 0 {
                    for (tap, weight) in response.enumerated() { echo[heardUpTo + room.acousticDelay + tap] += sample * weight }
                }
                heardUpTo += 1
            }
            var samples = (heard..<heard + block).map { index in
                let patient = index < visit.patient.count ? visit.patient[index] * 32_768 : 0
                let value = echo[index] + patient + Float(noise.nextGaussian()) * room.noiseLevel * 32_768
                return Float(Int16(clamping: Int(value.rounded()))) / 32_768
            }
            if cancelling, lostBlocks == 0, let every = room.lossEvery, Int.random(in: 0..<every, using: &losses) == 0 {
                lostBlocks = Int.random(in: 3...10, using: &losses)
                hearing.losses += 1
            }
            if cancelling && lostBlocks > 0 {
                // Lost: the filter never sees it; the voice engine is handed silence in its place,
                // so that its times stay those of the timeline.
                lostBlocks -= 1
                followsLoss = true
                samples = [Float](repeating: 0, count: block)
            } else if cancelling {
                samples = filter.process(samples, capturedFrom: instant(heard + jitter() + stampError()), followsLoss: followsLoss)
                followsLoss = false
                if filter.repliesEnded != repliesSeen, let reply = filter.lastReply {
                    repliesSeen = filter.repliesEnded
                    if let erle = reply.erle { hearing.erles.append(erle) }
                    hearing.realignments += reply.realignments
                }
            }
            heard += block
            let utterances = segmenter.process(samples)
            hearing.utterances += utterances
            if !utterances.isEmpty { reported = false }
            if let speech = segmenter.speechInOpenUtterance {
                if !reported && speech >= bargeInSpeech {
                    reported = true
                    hearing.bargeIns.append(heard)
                    if cancelling, let reply = visit.replies.first(where: { $0.contains(heard + block) }) {
                        let stop = heard + block
                        for index in stop..<reply.upperBound { speaker[index] = 0 }
                        if written > stop {
                            reference.rewound(written - stop)
                            written = stop
                        }
                    }
                }
            } else {
                reported = false
            }
        }
        hearing.utterances += segmenter.finish()
        hearing.learned = !filter.isLearning
        return hearing
    }

    static func tenReplies(voices: [String]) throws -> Visit {
        var visit = Visit()
        visit.pause(8_000)
        for (index, text) in replies.enumerated() {
            visit.reply(int16(try speech(text, voice: voices[index % voices.count])))
            visit.pause(24_000 + 1_237 * index)  // replies start anywhere against the microphone's blocks
        }
        return visit
    }

    @Test(arguments: conditions)
    func tenRepliesWithNoPatientSpeakingMakeNoTurn(condition: Condition) throws {
        try withKnownIssue(Comment(rawValue: condition.knownIssue ?? ""), isIntermittent: true) {
            try Self.checkTenReplies(condition)
        } when: {
            condition.knownIssue != nil
        }
    }

    static func checkTenReplies(_ condition: Condition) throws {
        let (set, room) = (condition.name, condition.room)
        let visit = try tenReplies(voices: condition.replyVoices)
        let cancelled = hear(visit, in: room, cancelling: true, jitterSeed: 7)
        let uncancelled = hear(visit, in: room, cancelling: false, jitterSeed: 7)
        let erles = cancelled.erles.sorted()
        print("echo cancellation, \(set): \(cancelled.utterances.count) utterances heard over 10 replies (without the canceller \(uncancelled.utterances.count)); ERLE per reply median \(String(format: "%.1f", erles.isEmpty ? .nan : erles[erles.count / 2])) dB, worst \(String(format: "%.1f", erles.first ?? .nan)) dB; realigned from lags \(cancelled.realignments) (frames); \(cancelled.losses) losses")
        #expect(uncancelled.utterances.count >= 8, "without the canceller the kiosk hears itself: the test can fail")
        #expect(cancelled.learned, "the canceller learned the room")
        #expect(cancelled.utterances.count == 0, "the kiosk heard itself: \(cancelled.utterances.map { String(format: "%.1f-%.1f s", $0.startTime, $0.endTime) }.joined(separator: ", "))")
        #expect(cancelled.bargeIns.count == 0, "the kiosk barged in on itself")
        #expect(erles.count >= 9 && erles[erles.count / 2] >= 30, "ERLE \(erles)")
        #expect(cancelled.realignments.isEmpty != condition.realigns, "realigned from lags \(cancelled.realignments)")
    }

    static let interruptions = [
        "Sorry, where is the bathroom?", "Wait, can you say that again?", "Excuse me, I feel dizzy.",
        "Hold on, I have a question.", "Stop please, I need a nurse.",
    ]

    /// 20 trials of a patient talking over a reply, after the ten replies the canceller learns the
    /// room from: each starts somewhere in the first two seconds of a reply, at about the echo's
    /// level. Barge-in is in time when the voice engine has heard the barge-in amount of speech
    /// within 230 ms of the patient starting (the speaker stops within the 20 ms left of the
    /// 250 ms), in at least 19 trials of 20 (issue 13). With 76 ms of speech as the barge-in
    /// amount the sets made 16 to 18; with 40 ms, the canceller's tails let through were heard
    /// as a patient once or twice in 30 replies, until the filter passed on only frames loud over
    /// the room (docs/CONVERSATION.md). Each interruption must become an utterance (the next
    /// turn), and at most one barge-in may come with nobody talking.
    @Test(arguments: conditions)
    func patientTalkingOverAReplyBargesIn(condition: Condition) throws {
        var visit = try Self.tenReplies(voices: condition.replyVoices)
        var onsets: [Int] = []
        var random = SplitMix64(seed: condition.room.seed &+ 11)
        for trial in 0..<20 {
            let reply = Self.int16(try Self.speech(Self.replies[trial % Self.replies.count], voice: condition.replyVoices[trial % condition.replyVoices.count]))
            let patient = try Self.speech(
                Self.interruptions[trial % Self.interruptions.count], voice: condition.patientVoices[trial % condition.patientVoices.count],
                level: Double.random(in: 0.15...0.3, using: &random))
            let start = visit.speaker.count + Int.random(in: 4_000...32_000, using: &random)
            visit.reply(reply)
            visit.pause(max(24_000, start + patient.count + 16_000 - visit.speaker.count))
            for (index, sample) in patient.enumerated() { visit.patient[start + index] += sample }
            let threshold = (patient.map(abs).max() ?? 0) * 0.02
            onsets.append(start + (patient.firstIndex { abs($0) >= threshold } ?? 0))
        }
        let hearing = Self.hear(visit, in: condition.room, cancelling: true, jitterSeed: condition.room.seed)
        var latencies: [Double] = []
        var missedTurns = 0
        for onset in onsets {
            // The onset is where the speech reaches 2% of its peak (-34 dB): the detector may hear
            // its quieter start a little earlier, but not more than 50 ms (a barge-in before that
            // was heard with nobody talking).
            let bargeIn = hearing.bargeIns.first { $0 >= onset - 800 && $0 < onset + 32_000 }
            latencies.append(bargeIn.map { Double($0 - onset) / 16 } ?? .infinity)
            let heardAsUtterance = hearing.utterances.contains { Int($0.startTime * 16_000) <= onset + 1_600 && Int($0.endTime * 16_000) > onset }
            if !heardAsUtterance { missedTurns += 1 }
        }
        let inTime = latencies.filter { $0 <= 230 }.count
        let sorted = latencies.sorted()
        print("barge-in, \(condition.name): \(inTime) of 20 within 230 ms; latency median \(String(format: "%.0f", sorted[10])) ms, worst \(sorted[19].isFinite ? String(format: "%.0f ms", sorted[19]) : "missed"); \(20 - missedTurns) of 20 became utterances; \(hearing.bargeIns.count - latencies.filter(\.isFinite).count) barge-ins with nobody talking; realigned from lags \(hearing.realignments) (frames); \(hearing.losses) losses")
        #expect(inTime >= 19, "latencies \(latencies.map { String(format: "%.0f", $0) })")
        #expect(missedTurns <= 1)
        #expect(hearing.bargeIns.count <= latencies.filter(\.isFinite).count + 1, "the kiosk barged in on itself")
        #expect(hearing.realignments.isEmpty != condition.realigns, "realigned from lags \(hearing.realignments)")
    }

    /// `hhctl speaker-test`'s measurement: the probe's echo found where the room put it, at its
    /// level, and cancelled; a microphone that hears only the room finds no echo.
    @Test func theEchoPathProbeFindsTheDelayAndLossOfARoom() {
        let probe = EchoPathProbe.probe(seconds: 2)
        let room = Room(acousticDelay: 592, echoGain: 0.3, seed: 4)  // 37 ms
        let response = room.response
        let lead = 1_600  // the microphone started 100 ms before the probe was heard
        var echo = [Float](repeating: 0, count: lead + probe.count + room.acousticDelay + response.count)
        for (index, sample) in probe.enumerated() {
            for (tap, weight) in response.enumerated() { echo[lead + index + room.acousticDelay + tap] += Float(sample) * room.echoGain * weight }
        }
        var noise = SplitMix64(seed: 9)
        let heard = echo.map { Int16(clamping: Int(($0 + Float(noise.nextGaussian()) * room.noiseLevel * 32_768).rounded())) }
        let measured = EchoPathProbe.measure(played: probe, heard: heard, heardFrom: -lead)
        let expectedLoss = -10 * log10(Double(room.echoGain * room.echoGain) * response.reduce(0) { $0 + Double($1 * $1) })
        print("echo path probe: \(measured.delayMilliseconds ?? .nan) ms, loss \(measured.returnLossDb ?? .nan) dB (room \(expectedLoss) dB), cancelled \(measured.cancellationDb ?? .nan) dB")
        #expect(abs((measured.delayMilliseconds ?? 0) - 37) <= 0.5)
        #expect(abs((measured.returnLossDb ?? 0) - expectedLoss) <= 1.5)
        #expect((measured.cancellationDb ?? 0) >= 20)

        let quiet = heard.map { _ in Int16(clamping: Int((noise.nextGaussian() * 20).rounded())) }
        let nothing = EchoPathProbe.measure(played: probe, heard: quiet, heardFrom: -lead)
        #expect(nothing.delayMilliseconds == nil && nothing.correlation < EchoPathProbe.heardCorrelation)
    }
}


