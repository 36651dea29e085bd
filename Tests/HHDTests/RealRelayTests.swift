import Foundation
import HHProtocol
import Relay
import Testing

extension DaemonTests {
    /// The kiosk and the cloud together: hhd delivers to a real hh-relay.
    @Suite struct RealRelayTests {
        @Test func hhdDeliversEverySessionToHHRelay() async throws {
            let directory = temporaryDirectory("relay")
            let relayBinary = productsDirectory.appendingPathComponent("hh-relay").path
            let environment = ["HH_RELAY_DATA_DIR": directory + "/relay"]
            let clinic = try runProduct("hh-relay", ["admin", "add-clinic", "North"], environment: environment)
            let clinicID = try #require(clinic.stdout.split(separator: "\n").last.map(String.init))
            let device = try runProduct("hh-relay", ["admin", "add-device", "--clinic", clinicID, "--name", "Lobby"], environment: environment)
            let token = try #require(device.stdout.split(separator: "\n").last.map(String.init))
            let port = Int.random(in: 20_000...60_000)
            let relay = Process()
            relay.executableURL = URL(fileURLWithPath: relayBinary)
            relay.arguments = ["serve", "--port", String(port)]
            relay.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            relay.standardOutput = FileHandle.nullDevice
            try relay.run()
            defer { relay.terminate(); relay.waitUntilExit() }

            let daemon = try DaemonProcess(
                ["--config", writeTestConfiguration(in: directory, token: token), "--state-dir", directory + "/state",
                 "--video", VisitVideo.path, "--audio", "", "--relay", "http://127.0.0.1:\(port)", "--pace", "fast"],
                log: directory + "/hhd.log")
            defer { daemon.ensureStopped() }
            #expect(daemon.wait(timeout: 60) == 0, "\(daemon.log)")
            let store = try SQLiteRelayStore(directory: directory + "/relay")
            #expect(try await store.sessionCount() == VisitVideo.presence.count, "\(daemon.log)")
            let kiosk = try EdgeStoreProbe.delivered(stateDirectory: directory + "/state")
            for id in kiosk {
                let stored = try #require(try await store.session(id: id))
                let document = try WireJSON.decoder().decode(SessionDocument.self, from: Data(stored.document.utf8))
                #expect(abs((document.summary.heartRateMedianBpm ?? 0) - VisitVideo.heartRate) <= 3)
            }
            await store.close()
        }
    }
}
