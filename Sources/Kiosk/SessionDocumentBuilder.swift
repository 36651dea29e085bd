import EdgeStore
import Foundation
import HHProtocol

/// Turns what the store holds for a session into the document sent to the relay.
public enum SessionDocumentBuilder {
    /// The document of session `id`: the per-second series (trimmed to the session's span),
    /// its summary, the utterances and the metadata.
    public static func document(
        id: String, startedAt: Date, endedAt: Date, reason: SessionDocument.EndReason,
        measurements: [VitalsSecond], turns: [StoredTurn], metadata: SessionMetadata
    ) -> SessionDocument {
        let duration = max(0, endedAt.timeIntervalSince(startedAt))
        let inSpan = measurements.filter { $0.t >= 0 && $0.t <= duration + 0.5 }
        let series: [HeartRateSample] = inSpan.map { second in
            HeartRateSample(
                t: round3(second.t), bpm: second.bpm.map(round1), snrDb: second.snrDb.map(round1),
                respirationBpm: second.respirationBpm.map(round1))
        }
        let variability = measurements.last { $0.rmssdMs != nil && $0.sdnnMs != nil }.map {
            VitalsSummary.Variability(rmssdMs: round1($0.rmssdMs!), sdnnMs: round1($0.sdnnMs!))
        }
        return SessionDocument(
            id: id, startedAt: startedAt, endedAt: endedAt, endReason: reason,
            heartRate: series, summary: VitalsSummary(series: series, variability: variability),
            voiceTurns: turns.map { VoiceTurnSummary(id: $0.id, startS: round3($0.start), endS: round3($0.end)) },
            metadata: metadata)
    }

    private static func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
    private static func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
