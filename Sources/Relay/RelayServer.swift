import Crypto
import Foundation
import HHProtocol
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOFoundationCompat
import Prometheus
import ServiceLifecycle
import UnixSignals

/// The relay's HTTP server: routes, middleware and the store behind them.
public enum RelayServer {
    /// The device API's routes and the operational ones.
    public static func router(
        store: any RelayStore, configuration: RelayConfiguration, registry: PrometheusCollectorRegistry, logger: Logger
    ) -> Router<RelayRequestContext> {
        let router = Router(context: RelayRequestContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger))
        router.add(middleware: MetricsMiddleware<RelayRequestContext>())

        router.get("/health") { _, _ -> Response in
            do { try await store.ping() } catch {
                throw APIError(.serviceUnavailable, "unavailable", "the database is unavailable")
            }
            return json(.ok, #"{"database":"ok","status":"ok"}"#)
        }
        router.get("/health/live") { _, _ -> Response in
            json(.ok, #"{"status":"ok"}"#)
        }
        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/openapi.yaml") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }

        let devices = router.group("v1").add(middleware: DeviceAuthenticationMiddleware(
            store: store, limiter: RateLimiter(rate: configuration.rateLimit, burst: configuration.rateBurst)))
        devices.post("sessions") { request, context -> Response in
            guard let device = context.device else { throw APIError.unauthorized("no device") }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maximumBodyBytes {
                throw APIError(.contentTooLarge, "too_large", "request body larger than \(configuration.maximumBodyBytes) bytes")
            }
            let body = try await request.body.collect(upTo: configuration.maximumBodyBytes)
            return try await SessionUpload.handle(Data(buffer: body), device: device, store: store)
        }
        return router
    }

    /// Runs the relay until SIGTERM/SIGINT: stops accepting, finishes requests in flight, exits.
    public static func run(configuration: RelayConfiguration, logger: Logger) async throws {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
        ]
        MetricsSystem.bootstrap(factory)
        let store = try RelayStores.open(configuration: configuration, logger: logger)
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        let application = Application(
            router: router(store: store, configuration: configuration, registry: registry, logger: logger),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "hh-relay"),
            onServerRunning: { channel in
                logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// `POST /v1/sessions`: validate, store once, answer.
enum SessionUpload {
    static func handle(_ body: Data, device: Device, store: any RelayStore) async throws -> Response {
        let document: SessionDocument
        do {
            document = try WireJSON.decoder().decode(SessionDocument.self, from: body)
        } catch let error as DecodingError {
            throw APIError(.badRequest, "malformed", "not a session document: \(error.relayDescription)")
        } catch {
            throw APIError(.badRequest, "malformed", "not a session document")
        }
        let problems = SessionValidation.problems(document)
        guard problems.isEmpty else { throw APIError(.badRequest, "invalid", problems.joined(separator: "; ")) }
        // The digest of the bytes tells a retry (the kiosk resends exactly what it stored)
        // from a new document at once; only when the bytes differ are the documents compared.
        let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        let session = StoredSession(
            id: document.id.lowercased(), clinicID: device.clinicID, deviceID: device.id, startedAt: document.startedAt,
            endedAt: document.endedAt, digest: digest, document: String(decoding: body, as: UTF8.self),
            heartRateMedianBpm: document.summary.heartRateMedianBpm)
        var outcome: StoreOutcome
        do {
            outcome = try await store.store(session)
            if outcome == .conflict, let stored = try await store.session(id: session.id),
               let previous = try? WireJSON.decoder().decode(SessionDocument.self, from: Data(stored.document.utf8)), previous == document {
                outcome = .replayed
            }
        } catch {
            throw APIError(.serviceUnavailable, "unavailable", "the database is unavailable", headers: [.retryAfter: "5"])
        }
        switch outcome {
        case .created, .replayed:
            // A retry answers exactly as the first upload did.
            var response = RelayServer.json(.created, #"{"id":"\#(session.id)","stored":true}"#)
            response.headers[.location] = "/v1/sessions/\(session.id)"
            return response
        case .conflict:
            throw APIError(.conflict, "conflict", "another session document is already stored under id \(session.id)")
        case .otherClinic:
            throw APIError(.forbidden, "forbidden", "session id \(session.id) belongs to another clinic")
        }
    }
}

extension DecodingError {
    /// What is wrong and where, without Swift's type names.
    var relayDescription: String {
        // The decoder converts snake_case keys; name them as the document spells them.
        func snake(_ name: String) -> String {
            name.reduce(into: "") { text, character in
                if character.isUppercase { text += "_" + character.lowercased() } else { text.append(character) }
            }
        }
        func path(_ context: Context) -> String {
            let text = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\(snake($0.stringValue))" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "the document" : text)
        }
        switch self {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing \(parent == "the document" ? "" : parent + ".")\(snake(key.stringValue))"
        case .typeMismatch(_, let context): return "wrong type at \(path(context))"
        case .valueNotFound(_, let context): return "null at \(path(context))"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not valid JSON" : "bad value at \(path(context)): \(context.debugDescription)"
        @unknown default: return "unreadable"
        }
    }
}

/// Opens the configured store.
public enum RelayStores {
    /// Postgres when `databaseURL` is set, else SQLite in the data folder; every operation
    /// measured and given at most 10 s.
    public static func open(configuration: RelayConfiguration, logger: Logger) throws -> any RelayStore {
        if let url = configuration.databaseURL {
            logger.info("using Postgres", metadata: ["database": "\(url)"])
            let store = PostgresRelayStore(url: url, poolSize: configuration.databasePoolSize, logger: logger)
            return InstrumentedStore(store, poolSize: configuration.databasePoolSize, timeout: .seconds(10))
        }
        logger.info("using SQLite", metadata: ["directory": "\(configuration.dataDirectory)"])
        return InstrumentedStore(try SQLiteRelayStore(directory: configuration.dataDirectory), poolSize: 1, timeout: .seconds(10))
    }
}
