import Foundation
import KioskControl
import Testing

extension DaemonTests {
    /// The kiosk's Debian package on a real Debian 12 with systemd as PID 1 under QEMU, with an
    /// hh-relay on this host (scripts/vm-package-test.sh, which runs
    /// scripts/vm-package-guest.sh inside; `make test` builds the package first with `make deb`).
    /// About five minutes, the conversation included: one of the system tests `make test` runs on their own.
    @Suite struct KioskPackageTests {
        @Test func thePackageInstallsEnrolsDeliversUpgradesAndPurgesUnderSystemd() throws {
            let architecture = try #require(Self.output(of: "/usr/bin/dpkg", ["--print-architecture"]))
            let package = repositoryRoot.appendingPathComponent("out/deb/health-helper-kiosk_\(KioskVersion.current)_\(architecture).deb").path
            try #require(FileManager.default.fileExists(atPath: package), "no \(package): run make deb (make test does)")
            let console = try #require(Self.output(of: "/bin/bash", [
                repositoryRoot.appendingPathComponent("scripts/vm-package-test.sh").path, productsDirectory.path, package,
            ]))
            // Kept for whoever reads a failed run (the daemon's journal is in it).
            let consoleLog = repositoryRoot.appendingPathComponent("out/vm-package-console.log")
            try? console.write(to: consoleLog, atomically: true, encoding: .utf8)
            print("the VM's console: \(consoleLog.path)")
            let lines = console.split(whereSeparator: \.isNewline).map(String.init).filter { $0.contains("HH-VM ") }
            func line(_ prefix: String) -> String {
                lines.first { $0.contains("HH-VM " + prefix) }.map { String($0[$0.range(of: "HH-VM " + prefix)!.upperBound...]) } ?? ""
            }
            func json(_ prefix: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(line(prefix).utf8)) }
            try #require(!line("end").isEmpty || lines.contains { $0.hasSuffix("HH-VM end") }, "the VM did not finish:\n\(console.suffix(6000))")

            // `apt install`: enabled and running at once, waiting for enrolment and saying so.
            #expect(line("install exit").hasPrefix(" 0"), "\(line("install exit"))")
            #expect(line("enabled") == " enabled active active")
            let waiting = line("status before enrolment (tech): ")
            #expect(waiting.contains("not enrolled") && waiting.contains("camera missing"), "\(waiting)")
            // The control socket: members of health-helper only.
            let stranger = line("status as a stranger: ")
            #expect(!stranger.hasPrefix("exit 0") && stranger.contains("Permission denied") && stranger.contains("health-helper group"), "\(stranger)")

            // The camera and the sound card plugged in after hhd started, picked up without a restart.
            let plugged = json("status json after plug: ") as? [String: Any]
            #expect(value(plugged, "camera.state") as? String == "running", "\(line("status json after plug: "))")
            #expect(value(plugged, "microphone.state") as? String == "running", "\(line("status json after plug: "))")
            #expect(value(plugged, "pid") as? Int == value(json("status json before plug: ") as? [String: Any], "pid") as? Int, "the same daemon")

            // A wrong relay URL, shown plainly before any session needs it.
            let wrong = line("status wrong relay: ")
            #expect(wrong.contains("http://10.0.2.2:9, UNREACHABLE") && wrong.contains("last error: unreachable:"), "\(wrong)")

            // Enrolment: the credential root's alone; a spoken question opens a session that reaches the relay.
            #expect(line("enrol exit").hasPrefix(" 0") && line("enrol exit").contains("hhd restarted"), "\(line("enrol exit"))")
            #expect(line("credential mode ") == "600 root")
            let sessions = try #require(json("sessions: ") as? [[String: Any]], "\(line("sessions: "))")
            let delivered = sessions.filter { $0["state"] as? String == "delivered" }.compactMap { $0["id"] as? String }
            #expect(!delivered.isEmpty, "\(line("sessions: "))")
            for id in delivered { #expect(lines.contains { $0.hasSuffix("HH-VM relay has \(id)") }, "the relay lacks \(id)") }
            #expect(line("status enrolled: ").contains("reachable, last success"), "\(line("status enrolled: "))")

            // The conversation through real devices (issue 13): the speaker on the loopback card,
            // which the microphone hears beside the patient. Ten questions are answered aloud, then
            // the patient talks over the eleventh reply: that stops it, and what they said is a
            // turn the relay answers. Every utterance is answered; the ten replies make ten turns and
            // no barge-in (the kiosk does not hear itself): before the echo alignment's fixes
            // (docs/CONVERSATION.md) five runs of five heard the kiosk itself; since, every run
            // (four here, three in clean-clone CI) made ten turns and
            // no barge-in.
            let tenReplies = line("conversation after ten replies: ")
            let talked = json("conversation after ten replies: ") as? [String: Any]
            let interrupted = json("conversation after a barge-in: ") as? [String: Any]
            func count(_ status: [String: Any]?, _ key: String) -> Int { value(status, key) as? Int ?? -1 }
            print("""
                conversation on the VM's loopback card: ten questions made \(count(talked, "conversation.turns")) turns, \
                \(count(talked, "conversation.barge_ins")) barge-ins, last reply's ERLE \(value(talked, "conversation.echo_return_loss_db") ?? "none") dB, \
                the speaker ran out \(count(talked, "conversation.speaker_underruns")) time(s); \
                talking over the eleventh reply: \(count(interrupted, "conversation.barge_ins") - count(talked, "conversation.barge_ins")) barge-in(s)
                """)
            // Each reply's echo as hhd logged it, for a run that heard itself.
            let echoes = console.components(separatedBy: " info hhd: ").compactMap { entry in
                entry.range(of: " [Kiosk] reply echo").map { entry[..<$0.lowerBound] }
            }
            for (index, echo) in echoes.enumerated() { print("reply \(index + 1) echo: \(echo.prefix(400))") }
            #expect(value(talked, "conversation.echo_return_loss_db") is Double, "\(tenReplies)")
            #expect(count(talked, "conversation.turns") >= 10, "\(tenReplies)")
            // A reply whose start the canceller leaves uncancelled is brought down whole, the
            // patient's voice with it (docs/CONVERSATION.md): once (clean-clone CI of 1963af0, the
            // tenth reply's ERLE 4.8 dB) the interruption over the eleventh was not heard.
            withKnownIssue("issue 13: the barge-in over the eleventh reply is lost when the canceller fails on that reply", isIntermittent: true) {
                #expect(count(interrupted, "conversation.barge_ins") > count(talked, "conversation.barge_ins"), "\(line("conversation after a barge-in: "))")
                #expect(count(interrupted, "conversation.turns") >= count(talked, "conversation.turns") + 2, "\(line("conversation after a barge-in: "))")
            }
            let transcripts = ((json("turns: ") as? [[String: Any]]) ?? []).flatMap { ($0["turns"] as? [[String: Any]]) ?? [] }.compactMap { $0["transcript"] as? String }
            #expect(!line("room noise: ").contains("ended"), "the room's noise played under the whole conversation")
            #expect(line("conversation phase: ").hasPrefix("done"), "\(line("conversation phase: "))")
            #expect(count(talked, "conversation.turns") == count(talked, "microphone.utterances"), "\(tenReplies)")
            #expect(count(talked, "conversation.waiting_turns") == 0, "\(tenReplies)")
            // After the speaker ran out in a reply, the canceller has once passed that reply's echo
            // (clean-clone CI of a70f122: the tenth reply, its move found at 19 samples, two
            // frames at 1.6 s heard as a barge-in and an eleventh turn; docs/CONVERSATION.md, 4).
            let underran = count(talked, "conversation.speaker_underruns") > 0
            withKnownIssue("issue 13: a reply whose speaker ran out can leak its echo past the canceller", isIntermittent: true) {
                #expect(count(talked, "conversation.turns") == 10, "\(tenReplies)")
                #expect(count(talked, "conversation.barge_ins") == 0, "\(tenReplies)")
            } when: { underran }
            withKnownIssue("issue 13: the interruption is lost with the eleventh reply when the canceller fails on that reply's start (above)", isIntermittent: true) {
                // Heard over the kiosk's own echo, the interruption was once recognised as "sorry sorry where it added".
                #expect(transcripts.contains { $0.contains("where is the exit") }, "the interruption (\"Sorry, where is the exit?\") is a turn: \(transcripts)")
            }

            // The sandbox on the installed system: no more exposed than docs/HHD.md claims (1.6 offline).
            let security = line("security: ")
            let exposure = security.split(separator: " ").compactMap { Double($0) }.first ?? 99
            #expect(exposure <= 1.6, "\(security)")

            // The watchdog: a stopped daemon is killed after WatchdogSec and started again.
            let watchdog = line("watchdog: ")
            let restarts = watchdog.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(restarts.count >= 4 && restarts[1].hasPrefix("restarts "), "\(watchdog)")
            let numbers = (restarts.first ?? "").split(separator: " ").compactMap { Int($0) }
            #expect(numbers.count == 2 && numbers[0] != numbers[1], "a new process: \(watchdog)")
            let counts = restarts.count > 1 ? restarts[1].split(separator: " ").compactMap { Int($0) } : []
            #expect(counts.count == 2 && counts[1] == counts[0] + 1, "\(watchdog)")
            #expect(watchdog.contains(", active,") && watchdog.contains("Watchdog timeout"), "\(watchdog)")

            // Upgrade: restarted on the new build, with the configuration, state, outbox and enrolment kept.
            #expect(line("upgrade exit").hasPrefix(" 0"), "\(line("upgrade exit"))")
            let upgraded = line("after upgrade: ")
            let pids = upgraded.split(separator: ",").first.map { $0.split(separator: " ").compactMap { Int($0) } } ?? []
            #expect(pids.count == 2 && pids[0] != pids[1], "restarted: \(upgraded)")
            #expect(upgraded.contains(", active, version \(KioskVersion.current), package \(KioskVersion.current),"), "\(upgraded)")
            // Every session so far (the first one's, and the conversation's) is still there.
            let kept = upgraded.components(separatedBy: "sessions ").dropFirst().first?.split(separator: ",").first?
                .components(separatedBy: " -> ").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? []
            #expect(kept.count == 2 && kept[0] == kept[1] && kept[0] > sessions.count && sessions.count >= 1, "\(upgraded)")
            #expect(upgraded.contains("config 1 local change") && upgraded.contains("\"http://10.0.2.2:"), "\(upgraded)")

            // Remove stops it and keeps the data; purge deletes it.
            #expect(line("remove exit ") == "0: hhd inactive, state kept, enrolment kept, config kept", "\(line("remove exit "))")
            #expect(line("purge exit ") == "0: state gone, enrolment gone, config gone", "\(line("purge exit "))")
        }

        /// The standard output of a program, nil when it fails.
        static func output(of program: String, _ arguments: [String]) -> String? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            guard (try? process.run()) != nil else { return nil }
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return process.terminationStatus == 0 ? text.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }
    }
}
