import Foundation
import HHProtocol

/// Checks a session document beyond its JSON shape: what a kiosk could never have measured is
/// refused (400) rather than stored.
public enum SessionValidation {
    /// The longest session accepted, seconds.
    public static let maximumDuration: Double = 24 * 3600
    /// The longest text field (software version, pulse method, camera): printable ASCII, so
    /// bytes and characters are the same count.
    public static let maximumTextBytes = 200
    /// How far before its session's start an utterance may begin, or after its end end, seconds.
    public static let maximumUtterance: Double = 30
    /// Session times a kiosk's clock can give: from 1970 (a kiosk without a real-time clock that
    /// started before its time was set: its sessions are still real) to 2100.
    static let plausibleDates = Date(timeIntervalSince1970: 0)...Date(timeIntervalSince1970: 4_102_444_800)

    /// The problems of `document`, empty when it is acceptable.
    public static func problems(_ document: SessionDocument) -> [String] {
        var problems: [String] = []
        if document.schemaVersion != SessionDocument.currentSchemaVersion {
            problems.append("schema_version \(document.schemaVersion) is not supported (expected \(SessionDocument.currentSchemaVersion))")
        }
        if UUID(uuidString: document.id) == nil { problems.append("id must be a UUID") }
        for (name, date) in [("started_at", document.startedAt), ("ended_at", document.endedAt)] where !plausibleDates.contains(date) {
            problems.append("\(name) is not between 1970 and 2100")
        }
        let duration = document.endedAt.timeIntervalSince(document.startedAt)
        if duration < 0 { problems.append("ended_at is before started_at") }
        if duration > maximumDuration { problems.append("the session is longer than 24 h") }
        // One sample a second at most, from t = 0 to the end (and the second the end falls in).
        let maximumSamples = Int(min(max(duration, 0), maximumDuration).rounded(.up)) + 2
        if document.heartRate.count > maximumSamples {
            problems.append("heart_rate has \(document.heartRate.count) samples for a session of \(Int(duration.rounded())) s (at most one a second)")
        }
        var previous = -Double.infinity
        for (index, sample) in document.heartRate.enumerated() {
            guard sample.t.isFinite, sample.t >= 0, sample.t <= max(duration, 0) + 1 else {
                problems.append("heart_rate[\(index)].t is outside the session")
                break
            }
            guard sample.t > previous else {
                problems.append("heart_rate is not in time order at \(index)")
                break
            }
            previous = sample.t
            if let bpm = sample.bpm, !(20...300).contains(bpm) { problems.append("heart_rate[\(index)].bpm \(bpm) is outside 20…300"); break }
            if let snr = sample.snrDb, !snr.isFinite || abs(snr) > 200 { problems.append("heart_rate[\(index)].snr_db is not a plausible SNR"); break }
            if let rate = sample.respirationBpm, !(1...120).contains(rate) { problems.append("heart_rate[\(index)].respiration_bpm is outside 1…120"); break }
        }
        if document.summary.secondsWithEstimate < 0 { problems.append("summary.seconds_with_estimate is negative") }
        for (name, value) in [("heart_rate_median_bpm", document.summary.heartRateMedianBpm), ("heart_rate_min_bpm", document.summary.heartRateMinBpm), ("heart_rate_max_bpm", document.summary.heartRateMaxBpm)] {
            if let value, !(20...300).contains(value) { problems.append("summary.\(name) \(value) is outside 20…300") }
        }
        if let variability = document.summary.variability, !(0...2000).contains(variability.rmssdMs) || !(0...2000).contains(variability.sdnnMs) {
            problems.append("summary.variability is outside 0…2000 ms")
        }
        if document.voiceTurns.count > 10_000 { problems.append("more than 10000 voice turns") }
        var turnIDs = Set<String>()
        for (index, turn) in document.voiceTurns.enumerated() {
            if UUID(uuidString: turn.id) == nil { problems.append("voice_turns[\(index)].id must be a UUID"); break }
            if !turnIDs.insert(turn.id.lowercased()).inserted { problems.append("voice_turns[\(index)].id is repeated"); break }
            if !(turn.startS.isFinite && turn.endS.isFinite) || turn.endS < turn.startS { problems.append("voice_turns[\(index)] ends before it starts"); break }
            // An utterance may begin a little before the session it belongs to opened (its
            // padding, or speech heard before the face), and one released just before a session
            // was cut at its maximum length may end after it; by at most an utterance either way.
            guard turn.startS >= -maximumUtterance, turn.endS <= max(duration, 0) + maximumUtterance else {
                problems.append("voice_turns[\(index)] is outside the session")
                break
            }
        }
        for (name, value) in [("metadata.software_version", document.metadata.softwareVersion), ("metadata.pulse_method", document.metadata.pulseMethod), ("metadata.camera", document.metadata.camera ?? "")]
        where value.utf8.count > maximumTextBytes || !value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
            problems.append("\(name) must be printable ASCII of at most \(maximumTextBytes) bytes")
        }
        return problems
    }
}
