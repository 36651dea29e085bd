import AsyncHTTPClient
import AWSSigning
import Foundation
import HHProtocol
import Hummingbird
import HummingbirdCore
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
        store: any RelayStore, objects: any ObjectStore, voice: VoiceTurnService? = nil, configuration: RelayConfiguration,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) -> Router<RelayRequestContext> {
        let router = Router(context: RelayRequestContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger))
        router.add(middleware: MetricsMiddleware<RelayRequestContext>())

        router.get("/health") { _, context -> Response in
            // The stores the relay writes must be the stores on disk, not only answer.
            do { try await store.ping() } catch {
                throw APIError.unavailable(.database, error, logger: context.logger)
            }
            do { try objects.checkInPlace() } catch {
                throw APIError.unavailable(.objects, error, logger: context.logger)
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
            limiter: RateLimiter(rate: configuration.rateLimit, burst: configuration.rateBurst),
            failures: RateLimiter(rate: failedAuthenticationRate, burst: failedAuthenticationBurst),
            behindProxy: configuration.behindProxy))
        devices.post("sessions") { request, context -> Response in
            guard let device = context.device else { throw APIError.unauthorized("no device") }
            if let key = request.headers[.init("Idempotency-Key")!], key.utf8.count > 64 {
                throw APIError(.badRequest, "bad_request", "Idempotency-Key is longer than 64 bytes")
            }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maximumBodyBytes {
                throw APIError(.contentTooLarge, "too_large", "request body larger than \(configuration.maximumBodyBytes) bytes")
            }
            let body = try await collectBody(request, upTo: configuration.maximumBodyBytes, within: .seconds(configuration.bodyTimeoutSeconds))
            return try await SessionUpload.handle(body, device: device, store: store, objects: objects, logger: context.logger)
        }
        if let voice {
            devices.post("sessions/:session_id/turns") { request, context -> Response in
                guard let device = context.device else { throw APIError.unauthorized("no device") }
                let sessionID = try VoiceTurnService.pathID(context.parameters.get("session_id") ?? "", "the session id")
                let maximum = configuration.voice.maximumTurnBytes
                if let length = request.headers[.contentLength].flatMap(Int.init), length > maximum {
                    throw APIError(.contentTooLarge, "too_large", "request body larger than \(maximum) bytes")
                }
                let body = try await collectBody(request, upTo: maximum, within: .seconds(configuration.bodyTimeoutSeconds))
                let reading = ContinuousClock.now
                let upload = try TurnUpload.parse(body, contentType: request.headers[.contentType])
                return try await voice.answer(upload, readIn: ContinuousClock.now - reading, sessionID: sessionID, device: device, logger: context.logger)
            }
            devices.get("sessions/:session_id/turns/:turn_id/reply.wav") { _, context -> Response in
                guard let device = context.device else { throw APIError.unauthorized("no device") }
                let sessionID = try VoiceTurnService.pathID(context.parameters.get("session_id") ?? "", "the session id")
                let turnID = try VoiceTurnService.pathID(context.parameters.get("turn_id") ?? "", "the turn id")
                return try await voice.replyAudio(sessionID: sessionID, turnID: turnID, device: device, logger: context.logger)
            }
        }
        WebUI(store: store, objects: objects, configuration: configuration).register(on: router)
        router.add(middleware: MethodNotAllowedMiddleware(allowed: [
            "/health": [.get, .head], "/health/live": [.get, .head], "/metrics": [.get, .head], "/openapi.yaml": [.get, .head],
            "/v1/sessions": [.post], "/v1/sessions/*/turns": [.post], "/v1/sessions/*/turns/*/reply.wav": [.get, .head],
        ].merging(WebUI.allowedMethods) { $1 }))
        return router
    }

    /// Device lookups (refunded when the token is good) and failed authentications a client
    /// address may make in a burst, and per second after.
    public static let failedAuthenticationBurst = 10.0
    /// See ``failedAuthenticationBurst``.
    public static let failedAuthenticationRate = 0.5

    /// The request body, up to `maximum` bytes, arriving within `limit` however slowly it
    /// trickles (the idle timeout only bounds silence): else 408 and the connection closes.
    static func collectBody(_ request: Request, upTo maximum: Int, within limit: Duration) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer.self) { group in
            group.addTask { try await request.body.collect(upTo: maximum) }
            group.addTask {
                try await Task.sleep(for: limit)
                throw APIError(.requestTimeout, "timeout", "the request body did not arrive within \(limit)", headers: [.connection: "close"])
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// The metrics registry `/metrics` serves, and the factory the executable bootstraps
    /// `MetricsSystem` with (once per process, in the executable, not here).
    public static func makeMetrics() -> (registry: PrometheusCollectorRegistry, factory: PrometheusMetricsFactory) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
        ]
        return (registry, factory)
    }

    /// Runs the relay until SIGTERM/SIGINT: stops accepting, finishes requests in flight (for
    /// at most the configured shutdown time), exits. Everything long-running is a service in
    /// one group: the database pool first (so it stops last), then the HTTP server, which
    /// migrates and probes the object store before it listens.
    public static func run(configuration: RelayConfiguration, registry: PrometheusCollectorRegistry, logger: Logger) async throws {
        let (store, storeServices) = try RelayStores.openServing(configuration: configuration, logger: logger)
        let objects = try RelayStores.openObjects(configuration: configuration, environment: ProcessInfo.processInfo.environment, logger: logger)
        let voice = try VoiceTurnService.make(
            configuration: configuration.voice, store: store, objects: objects, offline: OfflineVoice.load(decoders: configuration.voice.offlineDecoders),
            environment: ProcessInfo.processInfo.environment, logger: logger)
        var application = Application(
            router: router(store: store, objects: objects, voice: voice, configuration: configuration, registry: registry, logger: logger),
            server: .http1(configuration: HTTP1Channel.Configuration(
                // Silence is bounded: before a request's head is complete, between requests and
                // within a body. A body that trickles is bounded by the route's own deadline.
                idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)))),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "hh-relay",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maximumConnections, logger: logger)),
            onServerRunning: { channel in
                logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        application.beforeServerStarts {
            try await store.migrate()
            try await checkObjects(objects, logger: logger)
        }
        let sweeper = ObjectSweeper(store: store, objects: objects, logger: logger)
        let summaryClient = configuration.summaries.makeHTTPClient()
        let summaries = SummaryWorkers(
            store: store,
            summariser: try configuration.summaries.summariser(
                voice: configuration.voice, environment: ProcessInfo.processInfo.environment, httpClient: summaryClient),
            settings: configuration.summaries.workers, logger: logger)
        var group = ServiceGroupConfiguration(
            services: storeServices.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
                + [.init(service: application), .init(service: sweeper), .init(service: summaries)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A request that will not finish (a stalled upload) cannot hold SIGTERM up for ever.
        group.maximumGracefulShutdownDuration = .seconds(configuration.shutdownSeconds)
        group.maximumCancellationDuration = .seconds(5)
        var failure: (any Error)?
        do { try await ServiceGroup(configuration: group).run() } catch { failure = error }
        try? await summaryClient.shutdown()
        await objects.shutdown()
        await store.close()
        if let failure { throw failure }
    }

    /// Writes, reads back and removes a small object, so that a store the relay may not use
    /// (wrong bucket, no permission, bad credentials, read-only folder) stops it at start with
    /// the store's own words. A store that is only unreachable now is a warning: uploads
    /// answer 503 until it is back.
    static func checkObjects(_ objects: any ObjectStore, logger: Logger) async throws {
        let key = try ObjectKey("probes/\(RandomID.uuid())")
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
public enum SessionUpload {
    /// The session document in an upload's `body`, decoded and validated: what the relay reads
    /// from a device before storing anything (the fuzz suite drives this directly).
    ///
    /// - Throws: ``APIError`` 400 `malformed` for bytes that are not a session document (or not
    ///   strictly one: see ``StrictJSON``),
    ///   400 `invalid` for a document no kiosk could have measured (``SessionValidation``).
    public static func parse(_ body: Data) throws(APIError) -> SessionDocument {
        // Strict first: UTF-8 only, no duplicate or unknown keys, nothing a store cannot keep.
        let strict: Result<Void, StrictJSON.Failure> = body.withUnsafeBytes { bytes in
            Result { () throws(StrictJSON.Failure) in try StrictJSON.check(bytes, shape: SessionDocument.shape) }
        }
        if case .failure(let failure) = strict {
            throw APIError(.badRequest, "malformed", "not a session document: \(failure.description)")
        }
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
        return document
    }

    static func handle(_ bytes: ByteBuffer, device: Device, store: any RelayStore, objects: any ObjectStore, logger: Logger) async throws -> Response {
        let body = Data(buffer: bytes)
        let document = try parse(body)
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
            throw APIError.unavailable(.objects, error, logger: logger)
        }
        var outcome: StoreOutcome
        do {
            outcome = try await store.store(session)
        } catch RelayStoreError.unstorable(let reason) {
            try? await objects.delete(key)
            throw APIError(.badRequest, "invalid", "the document cannot be stored: \(reason)")
        } catch {
            // The row may or may not have been committed: the document stays (an orphan at
            // worst, which the sweeper removes once it is old and has no row).
            throw APIError.unavailable(.database, error, logger: logger)
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
                throw APIError.unavailable(.database, error, logger: logger)
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
    /// measured and given at most 10 s. The store runs its own connection pool until closed
    /// (one-shot commands and tests; the server uses ``openServing(configuration:logger:)``).
    public static func open(configuration: RelayConfiguration, logger: Logger) throws -> any RelayStore {
        try open(configuration: configuration, logger: logger, runsPool: true).store
    }

    /// The store and the services it needs running while it is used (Postgres: its
    /// connection pool), for a service group that runs them ahead of the server.
    public static func openServing(configuration: RelayConfiguration, logger: Logger) throws -> (store: any RelayStore, services: [any Service]) {
        try open(configuration: configuration, logger: logger, runsPool: false)
    }

    private static func open(configuration: RelayConfiguration, logger: Logger, runsPool: Bool) throws -> (store: any RelayStore, services: [any Service]) {
        if let url = configuration.databaseURL {
            logger.info("using Postgres", metadata: ["database": "\(url)"])
            let store = PostgresRelayStore(url: url, poolSize: configuration.databasePoolSize, logger: logger, runsPool: runsPool)
            return (InstrumentedStore(store, poolSize: configuration.databasePoolSize, timeout: .seconds(10)), runsPool ? [] : [store.pool])
        }
        logger.info("using SQLite", metadata: ["directory": "\(configuration.dataDirectory)"])
        return (InstrumentedStore(try SQLiteRelayStore(directory: configuration.dataDirectory), poolSize: 1, timeout: .seconds(10)), [])
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
