import AWSSigning
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
        store: any RelayStore, objects: any ObjectStore, configuration: RelayConfiguration, registry: PrometheusCollectorRegistry,
        logger: Logger
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
            store: store, devices: DeviceCache(lifetime: .seconds(configuration.deviceCacheSeconds)),
            limiter: RateLimiter(rate: configuration.rateLimit, burst: configuration.rateBurst)))
        devices.post("sessions") { request, context -> Response in
            guard let device = context.device else { throw APIError.unauthorized("no device") }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maximumBodyBytes {
                throw APIError(.contentTooLarge, "too_large", "request body larger than \(configuration.maximumBodyBytes) bytes")
            }
            let body = try await request.body.collect(upTo: configuration.maximumBodyBytes)
            return try await SessionUpload.handle(body, device: device, store: store, objects: objects, logger: context.logger)
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
        let objects: any ObjectStore
        do {
            try await store.migrate()
            objects = try RelayStores.openObjects(configuration: configuration, environment: ProcessInfo.processInfo.environment, logger: logger)
            try await checkObjects(objects, logger: logger)
        } catch {
            await store.close()
            throw error
        }
        let application = Application(
            router: router(store: store, objects: objects, configuration: configuration, registry: registry, logger: logger),
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

    /// Writes, reads back and removes a small object, so that a store the relay may not use
    /// (wrong bucket, no permission, bad credentials, read-only folder) stops it at start with
    /// the store's own words. A store that is only unreachable now is a warning: uploads
    /// answer 503 until it is back.
    static func checkObjects(_ objects: any ObjectStore, logger: Logger) async throws {
        let key = try ObjectKey("probes/\(UUID().uuidString.lowercased())")
        do {
            try await objects.put(ByteBuffer(string: "probe"), at: key, contentType: "text/plain")
            guard try await objects.get(key) == ByteBuffer(string: "probe") else { throw ObjectStoreError.refused("a probe object read back different") }
            try await objects.delete(key)
        } catch ObjectStoreError.unavailable(let message) {
            logger.warning("object store unavailable at start", metadata: ["error": "\(message)"])
        }
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// `POST /v1/sessions`: validate, keep the document of record, store once, answer.
enum SessionUpload {
    static func handle(_ bytes: ByteBuffer, device: Device, store: any RelayStore, objects: any ObjectStore, logger: Logger) async throws -> Response {
        let body = Data(buffer: bytes)
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
        let digest = sha256Hex(body)
        let session = StoredSession(
            id: document.id.lowercased(), clinicID: device.clinicID, deviceID: device.id, startedAt: document.startedAt,
            endedAt: document.endedAt, digest: digest, document: String(decoding: body, as: UTF8.self),
            heartRateMedianBpm: document.summary.heartRateMedianBpm)

        // The exact bytes go to the object store first, under a key that holds their digest:
        // every stored row then has its document of record, and a document that loses (409,
        // 403) never overwrites the one that won.
        let key = try ObjectKey.sessionDocument(clinicID: device.clinicID, sessionID: session.id, digest: digest)
        do {
            try await objects.put(bytes, at: key, contentType: "application/json")
        } catch {
            logger.error("object store failed", metadata: ["error": "\(error)"])
            throw APIError(.serviceUnavailable, "unavailable", "the object store is unavailable", headers: [.retryAfter: "5"])
        }
        var outcome: StoreOutcome
        do {
            outcome = try await store.store(session)
        } catch {
            throw APIError(.serviceUnavailable, "unavailable", "the database is unavailable", headers: [.retryAfter: "5"])
        }
        if outcome != .created && outcome != .replayed {
            // The id is taken by another document: ours is not kept.
            do { try await objects.delete(key) } catch {
                logger.warning("could not remove a refused document", metadata: ["error": "\(error)"])
            }
        }
        if outcome == .conflict {
            // The same session sent again with different bytes (key order, number spelling) is a replay.
            let stored: StoredSession?
            do { stored = try await store.session(id: session.id) } catch {
                throw APIError(.serviceUnavailable, "unavailable", "the database is unavailable", headers: [.retryAfter: "5"])
            }
            if let stored, let previous = try? WireJSON.decoder().decode(SessionDocument.self, from: Data(stored.document.utf8)), previous == document {
                outcome = .replayed
            }
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

    /// S3 when a bucket is configured (credentials from the AWS chain in `environment`: keys,
    /// the ECS task role, a profile), else the folder `objects` in the data folder.
    public static func openObjects(configuration: RelayConfiguration, environment: [String: String], logger: Logger) throws -> any ObjectStore {
        if let s3 = configuration.s3 {
            logger.info("using S3", metadata: ["bucket": "\(s3.bucket)", "prefix": "\(s3.prefix)", "region": "\(s3.region)"])
            return InstrumentedObjectStore(S3ObjectStore(location: s3, credentials: try AWSCredentialChain.provider(environment: environment)))
        }
        logger.info("using a local folder for objects", metadata: ["directory": "\(configuration.objectsDirectory)"])
        return InstrumentedObjectStore(try LocalFolderObjectStore(root: configuration.objectsDirectory))
    }
}
