import Foundation
import HHProtocol
import Hummingbird
import Logging
import Synchronization

/// Outermost: gives the request an id (its `X-Request-Id` if sane, else a new one), turns any
/// error into the JSON error body, and logs one line per request: id, method, route, status,
/// duration and device. Never the body: no patient data in logs.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = RelayRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let given = request.headers[.init("X-Request-Id")!]
        context.requestID = given.flatMap { Self.isSane($0) ? $0 : nil } ?? RandomID.uuid()
        // Inner layers (object store, database) log with the same request_id as this line.
        context.logger[metadataKey: "hb.request.id"] = nil
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        let start = ContinuousClock.now
        var response: Response
        var failure: (any Error)?
        do {
            // A request id that is given must be one the API allows (OpenAPI: 1–128 of A-Z a-z 0-9 . _ -).
            if let given, !Self.isSane(given) {
                throw APIError(.badRequest, "bad_request", "X-Request-Id must be 1 to 128 of A-Z, a-z, 0-9, '.', '_', '-'")
            }
            response = try await next(request, context)
        } catch {
            failure = error
            response = APIError.from(error).jsonResponse()
        }
        response.headers[.init("X-Request-Id")!] = context.requestID
        let level: Logger.Level = response.status.code >= 500 ? .error : .info
        guard logger.logLevel <= level else { return response }
        let elapsed = ContinuousClock.now - start
        var metadata: Logger.Metadata = [
            "request_id": "\(context.requestID)",
            "method": "\(request.method.rawValue)",
            "route": "\(context.endpointPath ?? "unmatched")",
            "status": "\(response.status.code)",
            "duration_ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
        ]
        if let device = context.requestLog.deviceID { metadata["device"] = "\(device)" }
        if response.status.code >= 500, let failure { metadata["error"] = "\(failure)" }
        logger.log(level: level, "request", metadata: metadata)
        return response
    }

    /// Request ids are echoed into logs and headers: printable, short, no separators.
    static func isSane(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
    }
}

/// The device API's authentication: `Authorization: Bearer hh1.<device>.<secret>`, the device
/// looked up by id and the secret's hash compared in constant time; revoked devices refused.
/// Then the device's rate limit.
///
/// Database lookups are paid for per client address *before* they are made: a request whose
/// device is not in the cache takes a token from its address's bucket (a burst of
/// ``RelayServer/failedAuthenticationBurst``), given back when the token proves good. Unknown
/// or forged tokens, however many at once, so cost at most the burst in queries before the
/// address gets 429; a kiosk whose device is cached never touches the bucket. Ids found
/// missing are remembered like devices found present.
struct DeviceAuthenticationMiddleware: RouterMiddleware {
    typealias Context = RelayRequestContext
    let store: any RelayStore
    let devices: DeviceCache
    let limiter: RateLimiter
    /// Lookups and failed authentications per client address.
    let failures: RateLimiter
    let behindProxy: Bool
    /// Device lookups under way, shared by the requests that need the same device.
    let lookups = DeviceLookups()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let device = try await authenticate(request, context: context, client: context.clientAddress(of: request, trustingForwardedFor: behindProxy))
        if let wait = limiter.take(device.id) {
            throw APIError(.tooManyRequests, "rate_limited", "too many requests from this device", headers: [.retryAfter: "\(Int(wait.rounded(.up)))"])
        }
        var context = context
        context.device = device
        return try await next(request, context)
    }

    private func authenticate(_ request: Request, context: Context, client: String) async throws -> Device {
        /// 401 with `message`, charged to `client` unless its lookup was already paid for (then
        /// 429 once its bucket is empty).
        func refuse(_ message: String, paid: Bool = false) -> APIError {
            if !paid, let wait = failures.take(client) { return throttled(wait) }
            return APIError.unauthorized(message)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw refuse("an Authorization: Bearer device token is required")
        }
        guard let token = DeviceToken(String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)) else {
            throw refuse("the device token is malformed")
        }
        var paid = false
        let device: Device?
        switch devices.lookup(id: token.deviceID) {
        case .present(let known): device = known
        case .absent: device = nil
        case .unknown:
            (device, paid) = try await lookUp(token.deviceID, client: client, logger: context.logger)
            if let device { devices.keep(device) } else { devices.keepMissing(token.deviceID) }
        }
        guard let device, token.matches(storedHash: device.secretHash) else { throw refuse("the device token is not valid", paid: paid) }
        guard device.revokedAt == nil else { throw refuse("the device has been revoked", paid: paid) }
        if paid { failures.refund(client) }
        return device
    }

    /// The device with `id` from the store. A lookup already under way for it is joined at no
    /// cost (a kiosk's requests arriving together as its cache entry expires make one query);
    /// a new one is paid for from `client`'s bucket before it is made (`paid`), and given back
    /// if the store fails.
    private func lookUp(_ id: String, client: String, logger: Logger) async throws -> (device: Device?, paid: Bool) {
        do {
            if let running = lookups.running(id) { return (try await running.value, false) }
            if let wait = failures.take(client) { throw throttled(wait) }
            do {
                return (try await lookups.run(id) { try await store.device(id: id) }, true)
            } catch {
                failures.refund(client)
                throw error
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.unavailable(.database, error, logger: logger)
        }
    }

    private func throttled(_ wait: Double) -> APIError {
        APIError(.tooManyRequests, "rate_limited", "too many failed authentications from this address", headers: [.retryAfter: "\(Int(wait.rounded(.up)))"])
    }
}

/// Device lookups under way, by device id, so that requests arriving together for one device
/// share one database query.
final class DeviceLookups: Sendable {
    private let inFlight = Mutex<[String: Task<Device?, any Error>]>([:])

    /// The lookup of `id` under way, if any.
    func running(_ id: String) -> Task<Device?, any Error>? {
        inFlight.withLock { $0[id] }
    }

    /// Looks `id` up with `lookup`, or joins the lookup another request started meanwhile.
    func run(_ id: String, _ lookup: @escaping @Sendable () async throws -> Device?) async throws -> Device? {
        let task = inFlight.withLock { inFlight in
            if let running = inFlight[id] { return running }
            let task = Task { try await lookup() }
            inFlight[id] = task
            return task
        }
        defer { inFlight.withLock { if $0[id] == task { $0[id] = nil } } }
        return try await task.value
    }
}

/// Answers 405 with `Allow` where a path exists with other methods (the router alone says 404).
/// Added after the routes, it wraps only the router's not-found answer.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = RelayRequestContext
    /// The methods of each path; `*` in a path stands for any one segment.
    let allowed: [String: [HTTPRequest.Method]]

    /// The methods of the path pattern `path` matches.
    func methods(of path: String) -> [HTTPRequest.Method]? {
        if let methods = allowed[path] { return methods }
        let segments = path.split(separator: "/")
        return allowed.first { pattern, _ in
            let parts = pattern.split(separator: "/")
            return parts.count == segments.count && zip(parts, segments).allSatisfy { $0 == "*" || $0 == $1 }
        }?.value
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = "/" + request.uri.path.split(separator: "/").joined(separator: "/")
            guard let methods = methods(of: path), !methods.contains(request.method) else { throw error }
            throw APIError(
                .methodNotAllowed, "method_not_allowed", "\(request.method.rawValue) is not allowed on \(path)",
                headers: [.allow: methods.map(\.rawValue).joined(separator: ", ")])
        }
    }
}

extension RelayRequestContext {
    /// The client's address: the peer of the connection, or behind a proxy that appends to
    /// `X-Forwarded-For` (the ALB), the right-most entry: the address that proxy saw.
    func clientAddress(of request: Request, trustingForwardedFor: Bool) -> String {
        if trustingForwardedFor, let forwarded = request.headers[.init("X-Forwarded-For")!],
           let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty {
            return last
        }
        return remoteAddress?.ipAddress ?? "unknown"
    }
}

/// A token bucket per device: `rate` requests per second sustained, `burst` at once. Per
/// instance: behind a load balancer each instance keeps its own buckets.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }
    private let rate: Double
    private let burst: Double
    private let capacity: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    /// A limiter allowing `rate` per second and `burst` at once per key, keeping at most about
    /// `capacity` keys (buckets that have filled up again are forgotten first).
    public init(rate: Double, burst: Double, capacity: Int = 100_000) {
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
    }

    /// Forgets the buckets that are full again (a fresh bucket is the same); if that is not
    /// enough, forgets them all rather than grow without bound.
    private func prune(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant) {
        buckets = buckets.filter { _, bucket in tokens(in: bucket, at: now) < burst }
        if buckets.count > capacity { buckets.removeAll(keepingCapacity: true) }
    }

    /// The tokens `bucket` holds at `now`, refilled since it was last updated.
    private func tokens(in bucket: Bucket, at now: ContinuousClock.Instant) -> Double {
        let elapsed = now - bucket.updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return min(burst, bucket.tokens + seconds * rate)
    }

    /// Gives back a token taken for `key` (a lookup that proved good).
    public func refund(_ key: String) {
        buckets.withLock { buckets in
            guard var bucket = buckets[key] else { return }
            bucket.tokens = min(burst, bucket.tokens + 1)
            buckets[key] = bucket
        }
    }

    /// Takes a token for `key`: `nil` when granted, else the seconds until one is available.
    public func take(_ key: String, now: ContinuousClock.Instant = .now) -> Double? {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = tokens(in: bucket, at: now)
            bucket.updated = now
            defer {
                buckets[key] = bucket
                if buckets.count > capacity { prune(&buckets, now: now) }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return (1 - bucket.tokens) / rate
        }
    }
}

/// Devices looked up recently, kept for a few seconds: a kiosk's uploads then cost one
/// database query, not two. A revocation reaches every instance within that time. Ids found
/// missing are kept too (a flood of unknown ids costs one query each per lifetime), at most
/// `capacity` entries in all.
public final class DeviceCache: Sendable {
    private let lifetime: Duration
    private let capacity: Int
    private let entries = Mutex<[String: (device: Device?, until: ContinuousClock.Instant)]>([:])

    /// What the cache knows of an id.
    public enum Lookup: Sendable, Hashable {
        /// The device, looked up recently.
        case present(Device)
        /// Looked up recently and not found.
        case absent
        /// Not looked up recently.
        case unknown
    }

    /// A cache keeping devices for `lifetime` (zero: nothing is kept).
    public init(lifetime: Duration, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// What was learnt of `id` within the lifetime.
    public func lookup(id: String, now: ContinuousClock.Instant = .now) -> Lookup {
        entries.withLock { entries in
            guard let entry = entries[id] else { return .unknown }
            guard now < entry.until else {
                entries[id] = nil
                return .unknown
            }
            return entry.device.map(Lookup.present) ?? .absent
        }
    }

    /// Keeps `device` until `lifetime` from now.
    public func keep(_ device: Device, now: ContinuousClock.Instant = .now) {
        remember(device.id, device, now: now)
    }

    /// Remembers that no device has `id`, until `lifetime` from now (a device added meanwhile
    /// is found after that).
    public func keepMissing(_ id: String, now: ContinuousClock.Instant = .now) {
        remember(id, nil, now: now)
    }

    private func remember(_ id: String, _ device: Device?, now: ContinuousClock.Instant) {
        guard lifetime > .zero else { return }
        entries.withLock { entries in
            if entries.count >= capacity {
                // Expired entries and remembered misses go first; real devices only if need be.
                entries = entries.filter { $0.value.device != nil && now < $0.value.until }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[id] = (device, now + lifetime)
        }
    }
}
