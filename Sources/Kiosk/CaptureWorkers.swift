import Devices
import EchoCancellation
import Foundation
import HHProtocol
import KioskControl
import Logging
import ServiceLifecycle
import Synchronization
import VitalsCore
import VoiceCore

/// What a capture thread reports to the recorder.
public enum CaptureEvent: Sendable {
    /// A pipeline event; `progress` is how far the source has got (its watermark).
    case event(PipelineEvent?, progress: Double, source: EventMerger.SourceID)
    /// The source is delivering again from `time` on.
    case up(EventMerger.SourceID, time: Double)
    /// The source is down (missing or failed): it must not hold the others back.
    case down(EventMerger.SourceID)
    /// The source reached the end of its file: it will send nothing more.
    case ended(EventMerger.SourceID)
}

/// Runs a capture loop on a thread of its own (device reads block), reopening the device
/// with backoff when it is missing or fails, until stopped or the file ends. Made first,
/// started by ``CaptureService`` when the service group runs.
final class CaptureThread: Sendable {
    private let name: String
    private let body: @Sendable (CaptureThread) -> Void
    private let stopped = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let lastBeat = Atomic<Int64>(CaptureThread.milliseconds())

    /// A thread called `name` that will run `body`.
    init(name: String, _ body: @escaping @Sendable (CaptureThread) -> Void) {
        self.name = name
        self.body = body
    }

    /// Starts the thread and returns when its loop has, or at once when the task is cancelled:
    /// the thread is asked to stop, but one stuck in a driver call must not keep the daemon
    /// from exiting (it goes with the process).
    func run() async {
        beat()
        let waiter = OnceWaiter()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                waiter.set(continuation)
                let thread = Thread { [self] in
                    body(self)
                    finished.store(true, ordering: .releasing)
                    waiter.resume()
                }
                thread.name = name
                thread.start()
                if Task.isCancelled { waiter.resume() }
            }
        } onCancel: {
            stop()
            waiter.resume()
        }
    }

    /// Whether ``stop()`` was called.
    var isStopped: Bool { stopped.load(ordering: .acquiring) }
    /// Whether the loop has returned.
    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Asks the loop to end; it notices at its next frame or block.
    func stop() { stopped.store(true, ordering: .releasing) }

    /// Says the loop is alive (called at every frame, block and backoff step).
    func beat() { lastBeat.store(Self.milliseconds(), ordering: .relaxed) }

    /// Whether the loop has shown signs of life within `seconds` (or has ended).
    func isAlive(within seconds: Double) -> Bool {
        isFinished || Double(Self.milliseconds() - lastBeat.load(ordering: .relaxed)) < seconds * 1000
    }

    private static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Sleeps up to `seconds`, waking early when stopped. Returns `false` if stopped.
    func pause(_ seconds: Double) -> Bool {
        // The monotonic clock: a wall-clock step (NTP, an administrator) neither stretches nor skips a backoff.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        while clock.now < deadline {
            beat()
            if isStopped { return false }
            let left = clock.now.duration(to: deadline)
            Thread.sleep(forTimeInterval: min(0.1, max(0, left / .seconds(1))))
        }
        return !isStopped
    }
}

/// A continuation resumed by whichever comes first (the thread's end, cancellation), once.
private final class OnceWaiter: Sendable {
    private let continuation = Mutex<CheckedContinuation<Void, Never>?>(nil)

    func set(_ continuation: CheckedContinuation<Void, Never>) { self.continuation.withLock { $0 = continuation } }

    func resume() { continuation.withLock { $0.take() }?.resume() }
}

/// The capture threads as one service: started when the group runs and stopped in one place,
/// ``stop()``, which the recorder calls when it is told to shut down (it is the consumer: it
/// reads what the threads sent until they have stopped) and which cancellation calls too. When
/// the last thread has returned the recorder's event stream is finished; the service itself
/// stays in the group until its own turn to shut down, because a service that ends while
/// another is being shut down makes the group fail.
final class CaptureService: Service {
    private let threads: [CaptureThread]
    private let events: AsyncStream<CaptureEvent>.Continuation

    /// A service running `threads`, which send to `events`.
    init(threads: [CaptureThread], events: AsyncStream<CaptureEvent>.Continuation) {
        self.threads = threads
        self.events = events
    }

    /// Asks every thread to stop; each notices at its next frame, block or backoff step.
    func stop() {
        for thread in threads { thread.stop() }
    }

    func run() async {
        let threads = threads
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    for thread in threads { group.addTask { await thread.run() } }
                }
            } onGracefulShutdown: { [self] in
                stop()
            }
        } onCancel: { [self] in
            stop()
        }
        events.finish()
        try? await gracefulShutdown()
    }
}

extension CaptureThread {
    /// The life of a capture source, the same for camera and microphone: open it, stream until
    /// the end of a file or a failure, and after a failure reopen it with backoff, until the
    /// thread is stopped. `started` reports the opened source and returns its media offset;
    /// `stream` returns `true` at the end of a file.
    func supervise<Format>(
        _ id: EventMerger.SourceID,
        emit: (CaptureEvent) -> Void,
        open: () throws -> Format,
        started: (Format) -> Double,
        stream: (Format, Double) throws -> Bool,
        close: () -> Void,
        failed: (any Error, Int) -> Void,
        ended: () -> Void
    ) {
        var failures = 0
        while !isStopped {
            do {
                let format = try open()
                let offset = started(format)
                emit(.up(id, time: offset))
                let atEnd = try stream(format, offset)
                close()
                if atEnd {
                    ended()
                    emit(.ended(id))
                    return
                }
                failures = 0
            } catch {
                close()
                failures += 1
                failed(error, failures)
                emit(.down(id))
                guard pause(reopenDelay(afterFailures: failures)) else { break }
            }
        }
        close()
        emit(.ended(id))
    }
}

/// The delays between attempts to reopen a missing or failed device: 1, 2, 4 … 30 s.
func reopenDelay(afterFailures failures: Int) -> Double {
    min(30, pow(2, Double(max(0, failures - 1))))
}

/// The camera loop: frames into the vitals pipeline, presence per second and estimates out.
struct VideoCapture: Sendable {
    let makeSource: @Sendable () -> any VideoSource
    let configuration: VitalsConfiguration
    let clock: MediaClock
    let board: StatusBoard
    let logger: Logger
    let emit: @Sendable (CaptureEvent) -> Void

    /// Runs until stopped or the file ends.
    func run(on thread: CaptureThread) {
        let source = makeSource()
        thread.supervise(
            .video, emit: emit,
            open: {
                board.update { $0.camera.state = .starting }
                return try source.open()
            },
            started: { format in
                logger.info("camera streaming", metadata: ["device": "\(source.name)", "format": "\(format)"])
                board.update {
                    $0.camera.state = .running
                    $0.camera.format = format.geometry.format.description
                    $0.camera.width = format.geometry.width
                    $0.camera.height = format.geometry.height
                    $0.camera.lastError = nil
                }
                return clock.offset()
            },
            stream: { format, offset in try stream(source, format: format, offset: offset, thread: thread) },
            close: source.close,
            failed: { error, failures in report(error, failures: failures, device: source.name) },
            ended: {
                board.update { $0.camera.state = .ended }
                logger.info("camera input ended", metadata: ["device": "\(source.name)"])
            })
    }

    /// Streams frames until the file ends (`true`), the thread is stopped (`false`) or the
    /// device fails (throws).
    private func stream(_ source: any VideoSource, format: VideoStreamFormat, offset: Double, thread: CaptureThread) throws -> Bool {
        var settings = configuration
        settings.sampleRate = format.nominalFPS
        var pipeline = try VitalsPipeline(geometry: format.geometry, range: format.range, configuration: settings)
        var second = -1.0
        var framesInSecond = 0
        var faceFrames = 0
        var lastTime: Double?
        var frameInterval: Double?
        var frameError: (any Error)?
        while !thread.isStopped {
            thread.beat()
            let more = try source.nextFrame { pixels, frameTime in
                let time = offset + frameTime
                let estimates: [VitalsEstimate]
                do { estimates = try pipeline.process(pixels, at: time) } catch {
                    frameError = error
                    return
                }
                let face = pipeline.lastRegion.facePresent
                if let lastTime { frameInterval = frameInterval.map { 0.95 * $0 + 0.05 * (time - lastTime) } ?? (time - lastTime) }
                lastTime = time
                let thisSecond = (time - offset).rounded(.down)
                if thisSecond != second {
                    if second >= 0 {
                        emit(.event(.presence(time: offset + second, face: faceFrames * 2 >= framesInSecond), progress: time, source: .video))
                    }
                    second = thisSecond
                    framesInSecond = 0
                    faceFrames = 0
                }
                framesInSecond += 1
                if face { faceFrames += 1 }
                for estimate in estimates { emit(.event(.vitals(estimate), progress: time, source: .video)) }
                board.update {
                    $0.camera.frames += 1
                    $0.camera.facePresent = face
                    if let frameInterval, frameInterval > 0 { $0.camera.fps = 1 / frameInterval }
                    for estimate in estimates {
                        $0.heartRate = KioskStatus.HeartRate(
                            bpm: estimate.heartRate, snrDb: estimate.snr, quality: estimate.status.rawValue,
                            respirationBpm: estimate.respirationRate)
                    }
                }
            }
            if let frameError { throw DeviceError.failed("bad frame: \(frameError)") }
            if !more {
                if second >= 0 {
                    emit(.event(.presence(time: offset + second, face: faceFrames * 2 >= framesInSecond), progress: offset + second + 1, source: .video))
                }
                for estimate in pipeline.finish() { emit(.event(.vitals(estimate), progress: lastTime ?? offset, source: .video)) }
                return true
            }
        }
        return false
    }

    private func report(_ error: any Error, failures: Int, device: String) {
        let state: KioskStatus.DeviceState = if case DeviceError.missing = error { .missing } else { .failed }
        board.update {
            $0.camera.state = state
            $0.camera.lastError = "\(error)"
            $0.camera.fps = nil
            $0.camera.facePresent = false
        }
        if failures == 1 || failures.isMultiple(of: 10) {
            logger.warning("camera unavailable, retrying", metadata: ["device": "\(device)", "error": "\(error)", "attempt": "\(failures)"])
        }
    }
}

/// The microphone loop: audio into the voice engine, utterances and levels out. Each
/// utterance's audio goes on the ``UtteranceShelf`` for the conversation; speech lasting
/// `bargeInSpeech` is reported at once (`speechStarted`), so a reply can be stopped while the
/// patient is still talking.
struct AudioCapture: Sendable {
    let makeSource: @Sendable () -> any AudioSource
    let configuration: UtteranceConfiguration
    let clock: MediaClock
    let board: StatusBoard
    let logger: Logger
    var shelf: UtteranceShelf?
    /// What the speaker plays, to cancel its echo before the voice detector hears it.
    var echo: EchoReference?
    /// The echo path the canceller models, milliseconds.
    var echoTailMilliseconds = 300
    /// Seconds of speech over a reply that stop it (`KioskConfiguration.bargeInSpeech`).
    var bargeInSpeech = 0.04
    var speechStarted: @Sendable () -> Void = {}
    let emit: @Sendable (CaptureEvent) -> Void

    /// Runs until stopped or the file ends.
    func run(on thread: CaptureThread) {
        let source = makeSource()
        thread.supervise(
            .audio, emit: emit,
            open: {
                board.update { $0.microphone.state = .starting }
                return try source.open()
            },
            started: { format in
                logger.info("microphone capturing", metadata: ["device": "\(source.name)", "format": "\(format)"])
                board.update {
                    $0.microphone.state = .running
                    $0.microphone.sampleRate = format.sampleRate
                    $0.microphone.lastError = nil
                }
                return clock.offset()
            },
            stream: { _, offset in try stream(source, offset: offset, thread: thread) },
            close: source.close,
            failed: { error, failures in report(error, failures: failures, device: source.name) },
            ended: {
                board.update { $0.microphone.state = .ended }
                logger.info("microphone input ended", metadata: ["device": "\(source.name)"])
            })
    }

    private func stream(_ source: any AudioSource, offset: Double, thread: CaptureThread) throws -> Bool {
        var segmenter = UtteranceSegmenter(configuration: configuration)
        var level = LevelMeter(sampleRate: 16_000)
        var position = 0.0
        var speechReported = false
        var echoFilter = echo.map { EchoCancellingFilter(reference: $0, tailMilliseconds: echoTailMilliseconds) }
        var repliesLogged = 0
        func publish(_ utterances: [Utterance], progress: Double) {
            for utterance in utterances {
                let id = RandomID.uuid()
                shelf?.put(id, samples: Array(turnAudio(of: utterance)))
                emit(.event(.utterance(id: id, start: offset + utterance.startTime, end: offset + utterance.endTime), progress: progress, source: .audio))
            }
            if !utterances.isEmpty { board.update { $0.microphone.utterances += utterances.count } }
        }
        while !thread.isStopped {
            thread.beat()
            guard let block = try source.read() else {
                publish(segmenter.finish(), progress: offset + position)
                return true
            }
            position = block.time + Double(block.samples.count) / 16_000
            var samples = block.samples
            if var filter = echoFilter {
                samples = filter.process(samples, capturedFrom: block.capturedFrom, followsLoss: block.followsLoss)
                echoFilter = filter
                if filter.repliesEnded != repliesLogged, let reply = filter.lastReply {
                    repliesLogged = filter.repliesEnded
                    log(reply)
                    if let erle = reply.erle { board.update { $0.conversation.echoReturnLossDb = erle } }
                }
            }
            let utterances = segmenter.process(samples)
            if !utterances.isEmpty { speechReported = false }  // the open one, if any, is a new one
            if let speech = segmenter.speechInOpenUtterance {
                if !speechReported && speech >= bargeInSpeech {
                    speechReported = true
                    speechStarted()
                }
            } else {
                speechReported = false
            }
            if let dbfs = level.add(samples) {
                let overruns = source.overruns
                board.update {
                    $0.microphone.levelDbfs = dbfs
                    $0.microphone.overruns = overruns
                }
            }
            // Progress is held back by the segmenter's lookahead: an utterance is reported
            // once its end silence has passed, so no utterance ending earlier is still to come.
            let held = configuration.endSilence + configuration.padding + 0.05
            if utterances.isEmpty {
                emit(.event(nil, progress: offset + max(0, position - held), source: .audio))
            } else {
                publish(utterances, progress: offset + max(0, position - held))
            }
        }
        return false
    }

    /// Logs how a reply's echo went: the ERLE, the alignment's jumps, and the frames passed on
    /// as the patient's while it played (a barge-in, or the kiosk hearing itself).
    private func log(_ reply: ReplyEcho) {
        var metadata: Logger.Metadata = [
            "erle_db": "\(reply.erle.map { String(format: "%.1f", $0) } ?? "none")",
            "speaker_jumps": "\(reply.jumps.speaker)", "microphone_jumps": "\(reply.jumps.microphone)", "microphone_losses": "\(reply.jumps.losses)",
            "speaker_losses": "\(reply.jumps.speakerLosses)",
            "largest_jump_ms": "\(reply.jumps.largest / 16)",
            "frames_passed": "\(reply.passedFrames)/\(reply.frames)",
            "echo_lag_ms": "\(reply.lastLag.map { "\($0 * 10)" } ?? "none")",
            "onset_erle_db": "\(reply.onsetERLE.map { String(format: "%.1f", $0) } ?? "none")",
        ]
        if !reply.realignments.isEmpty { metadata["realigned_from_lag_ms"] = "\(reply.realignments.map { $0 * 10 })" }
        if !reply.leadsAfterLoss.isEmpty {
            metadata["moves_after_loss"] = "\(reply.leadsAfterLoss.map { String(format: "%d samples (match %.2f)", $0.shift, $0.correlation) })"
        }
        if let first = reply.firstPassed {
            metadata["first_passed"] = "\(first.frame * 10) ms: microphone \(Int(first.microphone)), output \(Int(first.output)), speaker \(Int(first.reference)) dBFS"
        }
        logger.info("reply echo", metadata: metadata)
    }

    /// The audio of `utterance` sent as a turn: from ``turnLead`` before the speech starts (the
    /// segmenter's padding can be longer). The relay's offline recogniser mishears a long lead of
    /// room noise, often as an emergency (docs/CONVERSATION.md: 0.1 s heard right at every noise
    /// level measured, 0.6 s misheard at all but the quietest).
    func turnAudio(of utterance: Utterance) -> ArraySlice<Float> {
        let lead = max(0, utterance.speechStartTime - AudioCapture.turnLead - utterance.startTime)
        return utterance.samples.dropFirst(Int(lead * 16_000))
    }

    /// Audio kept before the speech starts in a turn, seconds.
    static let turnLead = 0.15

    private func report(_ error: any Error, failures: Int, device: String) {
        let state: KioskStatus.DeviceState = if case DeviceError.missing = error { .missing } else { .failed }
        board.update {
            $0.microphone.state = state
            $0.microphone.lastError = "\(error)"
            $0.microphone.levelDbfs = nil
        }
        if failures == 1 || failures.isMultiple(of: 10) {
            logger.warning("microphone unavailable, retrying", metadata: ["device": "\(device)", "error": "\(error)", "attempt": "\(failures)"])
        }
    }
}

/// RMS level per second, in dBFS.
struct LevelMeter: Sendable {
    let sampleRate: Int
    private var sum = 0.0
    private var count = 0

    init(sampleRate: Int) { self.sampleRate = sampleRate }

    /// Adds samples; returns the level of each second completed (the last, if several).
    mutating func add(_ samples: [Float]) -> Double? {
        var completed: Double?
        for sample in samples {
            sum += Double(sample * sample)
            count += 1
            if count == sampleRate {
                completed = 10 * log10(max(sum / Double(count), 1e-12))
                sum = 0
                count = 0
            }
        }
        return completed
    }
}

/// The daemon's media clock: seconds since the daemon started, shared by both capture
/// threads so that their events line up. With fast file input both files start at 0.
public struct MediaClock: Sendable {
    /// Whether sources are files read as fast as possible.
    public let fast: Bool
    private let start: Double

    /// A clock starting now.
    public init(fast: Bool) {
        self.fast = fast
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        start = Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
    }

    /// The media time at which a source opened now starts.
    func offset() -> Double {
        guard !fast else { return 0 }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9 - start
    }
}
