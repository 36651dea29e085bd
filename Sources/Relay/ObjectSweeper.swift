import Foundation
import Logging
import ServiceLifecycle

/// Removes what a relay killed mid-write leaves in the object store (temporary files of a
/// folder store, session documents whose database row never committed or lost to another
/// document, start-up probes) and voice-turn audio whose retention has expired. Runs soon after start and then every ``interval``; only objects
/// older than ``minimumAge`` are touched, so a write in progress is never mistaken for one
/// abandoned. Any instance may sweep: deleting an orphan twice is harmless.
public struct ObjectSweeper: Service {
    let store: any RelayStore
    let objects: any ObjectStore
    let logger: Logger
    /// How old an object must be before it can be an orphan.
    var minimumAge: Duration = .seconds(3600)
    /// Time before the first sweep (the server migrates and starts meanwhile).
    var firstDelay: Duration = .seconds(60)
    /// Time between sweeps.
    var interval: Duration = .seconds(3600)

    /// A sweeper of `objects`, asking `store` which documents have rows.
    public init(store: any RelayStore, objects: any ObjectStore, logger: Logger) {
        self.store = store
        self.objects = objects
        self.logger = logger
    }

    /// What one sweep removed.
    public struct Outcome: Sendable, Hashable {
        /// Temporary files of writes a crash cut short.
        public var temporaries = 0
        /// Documents without their row, and old probes.
        public var orphans = 0
        /// Turns whose retained audio expired and was deleted.
        public var expiredTurnAudio = 0

        /// Counts.
        public init(temporaries: Int = 0, orphans: Int = 0, expiredTurnAudio: Int = 0) {
            self.temporaries = temporaries
            self.orphans = orphans
            self.expiredTurnAudio = expiredTurnAudio
        }
    }

    public func run() async throws {
        try? await gracefulSleep(firstDelay)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let outcome = try await sweep(now: Date())
                if outcome != Outcome() {
                    logger.notice("swept the object store", metadata: [
                        "temporaries": "\(outcome.temporaries)", "orphans": "\(outcome.orphans)", "expired_turn_audio": "\(outcome.expiredTurnAudio)",
                    ])
                }
            } catch {
                logger.warning("object store sweep failed", metadata: ["error": "\(error)"])
            }
            try? await gracefulSleep(interval)
        }
    }

    /// Sleeps for `duration`, or less when the service group shuts down.
    private func gracefulSleep(_ duration: Duration) async throws {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }

    /// One sweep at `now`.
    public func sweep(now: Date) async throws -> Outcome {
        let cutoff = now.addingTimeInterval(-Double(minimumAge.components.seconds))
        var outcome = Outcome()
        outcome.temporaries = try await objects.removeAbandonedWrites(olderThan: cutoff)
        for object in try await objects.list(prefix: "probes/") where object.modified < cutoff {
            try await objects.delete(object.key)
            outcome.orphans += 1
        }
        for object in try await objects.list(prefix: "sessions/") where object.modified < cutoff {
            guard let (sessionID, digest) = object.key.sessionDocument else { continue }
            if let row = try await store.session(id: sessionID), row.digest == digest { continue }
            // Looked at again just before deleting: a kiosk retrying an upload puts the same key
            // (making it young again) before it commits the row. What remains is the moment
            // between this look and the delete.
            guard let modified = try await objects.modified(object.key), modified < cutoff else { continue }
            if let row = try await store.session(id: sessionID), row.digest == digest { continue }
            try await objects.delete(object.key)
            outcome.orphans += 1
        }
        outcome.expiredTurnAudio = try await removeExpiredTurnAudio(now: now)
        return outcome
    }

    /// Deletes the audio of turns whose retention ended before `now`, then forgets its keys.
    private func removeExpiredTurnAudio(now: Date) async throws -> Int {
        var removed = 0
        while true {
            let expired = try await store.turnsWithExpiredAudio(before: now, limit: 100)
            for turn in expired {
                for key in turn.audioKeys { try await objects.delete(try ObjectKey(key)) }
                try await store.forgetTurnAudio(id: turn.id)
                removed += 1
            }
            if expired.count < 100 { return removed }
        }
    }
}
