import AsyncHTTPClient
import Foundation
import HHProtocol
import KioskControl
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The relay's answer to an upload, or why there was none.
public enum UploadResult: Sendable, Hashable {
    /// The relay answered with `status`.
    case answered(status: Int, retryAfter: String?, message: String)
    /// The relay could not be reached (refused, timed out, DNS, TLS).
    case unreachable(String)
}

/// Uploads session documents to the relay (`POST /v1/sessions`).
public protocol RelayUploading: Sendable {
    /// Sends one session document; never throws (a failure is a result).
    func upload(sessionID: String, document: Data) async -> UploadResult
    /// Asks the relay's health endpoint whether it is there; never throws.
    func probe() async -> UploadResult
}


/// The relay client over HTTPS (AsyncHTTPClient).
///
/// Redirects are never followed: a 3xx would otherwise carry the session, token and all, to
/// whatever origin it names and count that origin's 201 as delivery. A 3xx is reported as a
/// failure (retried, with the target in the reason) for an administrator to fix the URL.
public struct HTTPRelayClient: RelayUploading {
    /// The process's client for the device API: no redirects.
    public static let deviceAPIClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    private let api: DeviceAPI

    /// A client for `enrollment` on the shared HTTP client.
    public init(enrollment: Enrollment, timeoutSeconds: Double, client: HTTPClient = HTTPRelayClient.deviceAPIClient, userAgent: String) {
        api = DeviceAPI(enrollment: enrollment, timeoutSeconds: timeoutSeconds, client: client, userAgent: userAgent)
    }

    public func upload(sessionID: String, document: Data) async -> UploadResult {
        var request = api.request("/v1/sessions", method: .POST)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: sessionID)
        request.body = .bytes(ByteBuffer(data: document))
        do {
            let (status, headers, body) = try await api.exchange(request, maximumBody: 64 * 1024)
            var message = (try? WireJSON.decoder().decode(ErrorResponse.self, from: body).error.message) ?? ""
            if (300..<400).contains(status) {
                let target = headers.first(name: "Location") ?? "?"
                message = "the relay redirected to \(target); hhd does not follow redirects (check relay.url)"
            }
            return .answered(status: status, retryAfter: headers.first(name: "Retry-After"), message: message)
        } catch {
            return .unreachable(String(describing: error))
        }
    }

    public func probe() async -> UploadResult {
        do {
            let (status, _, body) = try await api.exchange(api.request("/health"), maximumBody: 64 * 1024)
            let message = (try? WireJSON.decoder().decode(ErrorResponse.self, from: body).error.message) ?? ""
            return .answered(status: status, retryAfter: nil, message: message)
        } catch {
            return .unreachable(String(describing: error))
        }
    }
}

/// Where and as whom the kiosk calls the relay's device API: the enrolment's URL and token,
/// the timeout and the client, shared by sessions and voice turns.
struct DeviceAPI: Sendable {
    let enrollment: Enrollment
    /// How long a request may take.
    let deadline: Duration
    let client: HTTPClient
    let userAgent: String

    init(enrollment: Enrollment, timeoutSeconds: Double, client: HTTPClient, userAgent: String) {
        self.enrollment = enrollment
        self.deadline = .milliseconds(Int64(timeoutSeconds * 1000))
        self.client = client
        self.userAgent = userAgent
    }

    /// A request to `path` on the relay, with the device token and the user agent.
    func request(_ path: String, method: HTTPMethod = .GET) -> HTTPClientRequest {
        var base = enrollment.relayURL
        while base.hasSuffix("/") { base.removeLast() }
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(enrollment.token)")
        request.headers.add(name: "User-Agent", value: userAgent)
        return request
    }

    /// Sends `request` and reads the whole answer (at most `maximumBody` bytes), all within the
    /// deadline (the client's own timeout ends with the response head; a relay that stalls
    /// mid-body must not hold the outbox).
    func exchange(_ request: HTTPClientRequest, maximumBody: Int) async throws -> (status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        try await withDeadline(deadline, timedOut: { RelayClientError("no complete answer from the relay within \(deadline)") }) { [client, deadline] in
            let response = try await client.execute(request, timeout: TimeAmount(deadline))
            return (Int(response.status.code), response.headers, try await response.body.collect(upTo: maximumBody))
        }
    }

    /// Sends `request`; gives up when no response head has come within the deadline. For
    /// answers read as they stream.
    func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        try await client.execute(request, timeout: TimeAmount(deadline))
    }
}
