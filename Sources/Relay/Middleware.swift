import Foundation
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
        let given = request.headers[.init("X-Request-Id")!] ?? ""
        context.requestID = Self.isSane(given) ? given : UUID().uuidString.lowercased()
        let start = ContinuousClock.now
        var response: Response
        var failure: (any Error)?
        do {
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
struct DeviceAuthenticationMiddleware: RouterMiddleware {
    typealias Context = RelayRequestContext
    let store: any RelayStore
    let devices: DeviceCache
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIError.unauthorized("an Authorization: Bearer device token is required")
        }
        guard let token = DeviceToken(String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)) else {
            throw APIError.unauthorized("the device token is malformed")
        }
        var device = devices.device(id: token.deviceID)
        if device == nil {
            do { device = try await store.device(id: token.deviceID) } catch {
                throw APIError(.serviceUnavailable, "unavailable", "the database is unavailable", headers: [.retryAfter: "5"])
            }
            if let device { devices.keep(device) }
        }
        guard let device, token.matches(storedHash: device.secretHash) else {
            throw APIError.unauthorized("the device token is not valid")
        }
        guard device.revokedAt == nil else { throw APIError.unauthorized("the device has been revoked") }
        if let wait = limiter.take(device.id) {
            throw APIError(.tooManyRequests, "rate_limited", "too many requests from this device", headers: [.retryAfter: "\(Int(wait.rounded(.up)))"])
        }
        var context = context
        context.device = device
        return try await next(request, context)
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
    private let buckets = Mutex<[String: Bucket]>([:])

    /// A limiter allowing `rate` per second and `burst` at once per key.
    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Takes a token for `key`: `nil` when granted, else the seconds until one is available.
    public func take(_ key: String, now: ContinuousClock.Instant = .now) -> Double? {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + seconds * rate)
            bucket.updated = now
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return (1 - bucket.tokens) / rate
        }
    }
}

/// Devices looked up recently, kept for a few seconds: a kiosk's uploads then cost one
/// database query, not two. A revocation reaches every instance within that time. Only
/// devices that exist are kept, and at most `capacity` of them.
public final class DeviceCache: Sendable {
    private let lifetime: Duration
    private let capacity: Int
    private let entries = Mutex<[String: (device: Device, until: ContinuousClock.Instant)]>([:])

    /// A cache keeping devices for `lifetime` (zero: nothing is kept).
    public init(lifetime: Duration, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The device with `id` if it was kept and has not expired.
    public func device(id: String, now: ContinuousClock.Instant = .now) -> Device? {
        entries.withLock { entries in
            guard let entry = entries[id] else { return nil }
            guard now < entry.until else {
                entries[id] = nil
                return nil
            }
            return entry.device
        }
    }

    /// Keeps `device` until `lifetime` from now.
    public func keep(_ device: Device, now: ContinuousClock.Instant = .now) {
        guard lifetime > .zero else { return }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[device.id] = (device, now + lifetime)
        }
    }
}
