import Foundation

/// The readable form of `hhctl status` and its helpers.
public enum StatusText {
    /// The status as aligned lines, one part of the kiosk a line.
    public static func render(_ status: KioskStatus, now: Date) -> String {
        var lines: [(String, String)] = []
        lines.append(("hhd", "\(status.version), running for \(duration(status.uptimeS)) (pid \(status.pid))"))

        let camera = status.camera
        var cameraText = camera.state.rawValue
        if let format = camera.format, let width = camera.width, let height = camera.height { cameraText += ", \(format) \(width)x\(height)" }
        if let fps = camera.fps, camera.state == .running { cameraText += String(format: ", %.1f fps", fps) }
        if camera.state == .running { cameraText += camera.facePresent ? ", face in view" : ", no face" }
        cameraText += "  [\(camera.device.isEmpty ? "disabled" : camera.device)]"
        if let error = camera.lastError, camera.state != .running { cameraText += "\n    last error: \(error)" }
        lines.append(("camera", cameraText))

        let microphone = status.microphone
        var microphoneText = microphone.state.rawValue
        if let level = microphone.levelDbfs, microphone.state == .running { microphoneText += String(format: ", %.1f dBFS", level) }
        microphoneText += ", \(microphone.overruns) overrun\(microphone.overruns == 1 ? "" : "s"), \(microphone.utterances) utterance\(microphone.utterances == 1 ? "" : "s")"
        microphoneText += "  [\(microphone.device.isEmpty ? "disabled" : microphone.device)]"
        if let error = microphone.lastError, microphone.state != .running { microphoneText += "\n    last error: \(error)" }
        lines.append(("microphone", microphoneText))

        if let session = status.session {
            lines.append(("session", "\(session.id), \(duration(session.durationS)), \(session.turns) voice turn\(session.turns == 1 ? "" : "s")"))
        } else {
            lines.append(("session", "none (nobody at the kiosk)"))
        }

        let heart = status.heartRate
        if let bpm = heart.bpm {
            var text = String(format: "%.0f bpm, SNR %.1f dB", bpm, heart.snrDb ?? 0)
            if let respiration = heart.respirationBpm { text += String(format: ", respiration %.0f/min", respiration) }
            lines.append(("heart rate", text))
        } else {
            lines.append(("heart rate", "no estimate (\(heart.quality.replacingOccurrences(of: "_", with: " ")))"))
        }

        let conversation = status.conversation
        var conversationText = conversation.state
        conversationText += ", \(conversation.turns) turn\(conversation.turns == 1 ? "" : "s") answered"
        if let latency = conversation.lastTurnLatencyMs { conversationText += String(format: " (last in %.0f ms)", latency) }
        if conversation.waitingTurns > 0 { conversationText += ", \(conversation.waitingTurns) waiting for the relay" }
        if conversation.apologies > 0 { conversationText += ", \(conversation.apologies) apolog\(conversation.apologies == 1 ? "y" : "ies")" }
        if conversation.bargeIns > 0 { conversationText += ", \(conversation.bargeIns) barge-in\(conversation.bargeIns == 1 ? "" : "s")" }
        if conversation.underruns > 0 { conversationText += ", \(conversation.underruns) underrun\(conversation.underruns == 1 ? "" : "s")" }
        if conversation.speakerUnderruns > 0 {
            conversationText += ", the speaker ran out \(conversation.speakerUnderruns) time\(conversation.speakerUnderruns == 1 ? "" : "s")"
        }
        if let erle = conversation.echoReturnLossDb { conversationText += String(format: ", echo cancelled %.1f dB", erle) }
        conversationText += "  [\(conversation.speaker.isEmpty ? "no speaker: conversation off" : conversation.speaker)]"
        if let escalation = conversation.escalation { conversationText += "\n    ESCALATED: \(escalation.replacingOccurrences(of: "_", with: " ")) (staff alerted)" }
        if let error = conversation.lastError { conversationText += "\n    last error: \(error)" }
        lines.append(("conversation", conversationText))

        let outbox = status.outbox
        var outboxText = "\(outbox.depth) waiting"
        if let age = outbox.oldestAgeS { outboxText += ", oldest \(duration(age))" }
        outboxText += "; \(outbox.delivered) delivered, \(outbox.rejected) rejected, \(outbox.evicted) evicted"
        lines.append(("outbox", outboxText))

        let relay = status.relay
        var relayText = relay.url ?? "not enrolled: sessions wait here (sudo hhctl enroll --relay URL --token-file FILE)"
        switch relay.reachable {
        case true?: relayText += ", reachable"
        case false?: relayText += ", UNREACHABLE"
        case nil: relayText += relay.url == nil ? "" : ", not contacted yet"
        }
        if let success = relay.lastSuccess { relayText += ", last success \(duration(now.timeIntervalSince(success))) ago" }
        if let error = relay.lastError { relayText += "\n    last error: \(error)" }
        if let next = relay.nextAttempt, next > now { relayText += "\n    next attempt in \(duration(next.timeIntervalSince(now)))" }
        lines.append(("relay", relayText))

        let storage = status.storage
        var storageText = "\(bytes(storage.usedBytes)) of \(bytes(storage.quotaBytes)) quota (\(storage.state))"
        if let error = storage.lastError { storageText += "\n    last error: \(error)" }
        lines.append(("storage", storageText))

        return lines.map { "\($0.0.padding(toLength: 14, withPad: " ", startingAt: 0))\($0.1)\n" }.joined()
    }

    /// A duration as `45 s`, `3 min 05 s`, `2 h 07 min`.
    public static func duration(_ seconds: Double) -> String {
        let total = Int(max(0, seconds).rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return String(format: "%d min %02d s", total / 60, total % 60) }
        return String(format: "%d h %02d min", total / 3600, total % 3600 / 60)
    }

    /// A size in binary units, as the quota is configured: `812 KiB`, `1.2 MiB`.
    public static func bytes(_ count: Int64) -> String {
        let value = Double(count)
        if value < 1_048_576 { return String(format: "%.0f KiB", value / 1024) }
        if value < 1_073_741_824 { return String(format: "%.1f MiB", value / 1_048_576) }
        return String(format: "%.2f GiB", value / 1_073_741_824)
    }

    /// A time as `2026-11-26 02:14:05` (UTC).
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(dateSeparator: .dash, dateTimeSeparator: .space, timeZone: .gmt)).replacingOccurrences(of: "Z", with: "")
    }
}
