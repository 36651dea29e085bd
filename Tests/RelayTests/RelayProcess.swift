import AsyncHTTPClient
import Foundation
import HHProtocol
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A running `hh-relay serve`, its database, and a clinic with a device.
final class RelayProcess {
    let process = Process()
    let environment: [String: String]
    let port: Int
    let logPath: String

    /// Starts a relay on the database in `environment` (in the working directory `directory`,
    /// if given) and waits until it answers.
    init(environment: [String: String], extra: [String: String] = [:], directory: String? = nil) throws {
        self.environment = environment
        port = freePort()
        logPath = NSTemporaryDirectory() + "relay-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = productsDirectory.appendingPathComponent("hh-relay")
        process.arguments = ["serve", "--port", String(port)]
        process.environment = ProcessInfo.processInfo.environment.merging(environment.merging(extra) { $1 }) { $1 }
        process.standardOutput = log
        process.standardError = log
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            // The relay listens only once its database is migrated: a connection means ready.
            if canConnect(port: port) { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestSetupError("hh-relay did not start:\n\((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
    }

    var url: String { "http://127.0.0.1:\(port)" }
    /// What the relay logged so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Runs `hh-relay admin …` on the same database; returns the last line of its output.
    func admin(_ arguments: [String]) throws -> String {
        let result = try run(productsDirectory.appendingPathComponent("hh-relay").path, ["admin"] + arguments, environment: environment)
        guard result.status == 0 else { throw TestSetupError("hh-relay admin \(arguments): \(result.stderr)") }
        return result.stdout.split(separator: "\n").last.map(String.init) ?? ""
    }

    /// A new clinic with one device: (clinic id, device token).
    func clinicWithDevice(_ name: String) throws -> (clinic: String, token: String) {
        let clinic = try admin(["add-clinic", name])
        return (clinic, try admin(["add-device", "--clinic", clinic, "--name", "\(name) lobby"]))
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// One HTTP request; returns status, headers and body.
func http(_ method: String, _ url: String, headers: [(String, String)] = [], body: Data? = nil) async throws -> (Int, HTTPHeaders, Data) {
    var request = HTTPClientRequest(url: url)
    request.method = HTTPMethod(rawValue: method)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(ByteBuffer(data: body)) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let data = try await response.body.collect(upTo: 16 << 20)
    return (Int(response.status.code), response.headers, Data(buffer: data))
}

/// A valid session document's JSON, with `bpm` as its one heart rate.
func sessionJSON(id: String = UUID().uuidString.lowercased(), bpm: Double = 72) -> Data {
    let document = SessionDocument(
        id: id, startedAt: Date(timeIntervalSince1970: 1_800_000_000), endedAt: Date(timeIntervalSince1970: 1_800_000_030),
        endReason: .absence, heartRate: [HeartRateSample(t: 5, bpm: bpm, snrDb: 6.5), HeartRateSample(t: 6)],
        summary: VitalsSummary(heartRateMedianBpm: bpm, secondsWithEstimate: 1), voiceTurns: [],
        metadata: SessionMetadata(softwareVersion: "0.4.0", pulseMethod: "pos"))
    return try! WireJSON.encoder().encode(document)
}

/// The `error.code` of an error body.
func errorCode(_ body: Data) -> String? {
    (try? WireJSON.decoder().decode(ErrorResponse.self, from: body))?.error.code
}
