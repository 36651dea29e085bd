import AsyncHTTPClient
import AWSSigning
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Where a cloud provider answers: its origin (`https://host[:port]`), which tests point at a
/// local fake.
public struct ProviderEndpoint: Sendable, Hashable {
    /// `http` or `https`.
    public var scheme: String
    /// The host name.
    public var host: String
    /// The port, when not the scheme's default.
    public var port: Int?

    /// Parses `http(s)://host[:port]`.
    public init?(_ text: String) {
        guard let components = URLComponents(string: text), let scheme = components.scheme, ["http", "https"].contains(scheme),
              let host = components.host, !host.isEmpty, components.query == nil, components.path.isEmpty || components.path == "/"
        else { return nil }
        self.scheme = scheme
        self.host = host
        port = components.port
    }

    /// `https://host`.
    public init(host: String) {
        scheme = "https"
        self.host = host
        port = nil
    }

    /// The origin, for URLs.
    public var origin: String { "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")" }
    /// The `Host` header (and what SigV4 signs).
    public var hostHeader: String { host + (port.map { ":\($0)" } ?? "") }
}

/// One HTTP exchange with a provider, signed with SigV4 for AWS or with a key for the others.
struct ProviderHTTP: Sendable {
    let endpoint: ProviderEndpoint
    let httpClient: HTTPClient
    /// How the request is authenticated.
    let authentication: Authentication

    enum Authentication: Sendable {
        /// SigV4 (AWS): the signer and where credentials come from.
        case sigV4(SigV4Signer, any AWSCredentialProvider)
        /// Fixed headers (an API key).
        case headers([(String, String)])
    }

    /// Bedrock's runtime in `region` (or `endpoint`), signed with SigV4 for the `bedrock` service.
    static func bedrock(region: String, credentials: any AWSCredentialProvider, endpoint: ProviderEndpoint?, httpClient: HTTPClient, host: String = "bedrock-runtime") -> ProviderHTTP {
        ProviderHTTP(
            endpoint: endpoint ?? ProviderEndpoint(host: "\(host).\(region).amazonaws.com"), httpClient: httpClient,
            authentication: .sigV4(SigV4Signer(region: region, service: "bedrock"), credentials))
    }

    /// Sends `body` to `path` (already percent-encoded) with `query`; returns the response once
    /// its head is in, or throws ``VoiceProviderError`` for an error status (with the
    /// provider's words) or a failed connection.
    func post(
        path: String, query: [SigV4Request.QueryItem] = [], body: [UInt8], contentType: String, accept: String? = nil, deadline: Duration
    ) async throws -> HTTPClientResponse {
        var headers = [SigV4Request.Header("Host", endpoint.hostHeader), SigV4Request.Header("Content-Type", contentType)]
        if let accept { headers.append(.init("Accept", accept)) }
        switch authentication {
        case .sigV4(let signer, let provider):
            let credentials: AWSCredentials
            do { credentials = try await provider.credentials() } catch { throw VoiceProviderError.unreachable("no AWS credentials: \(error)") }
            let unsigned = SigV4Request(method: "POST", path: path, query: query, headers: headers, payloadHash: SigV4Encoding.payloadHash(body))
            headers += signer.signHeaders(unsigned, credentials: credentials, date: Date()).headers
        case .headers(let fixed):
            headers += fixed.map { SigV4Request.Header($0.0, $0.1) }
        }
        let queryText = query.map { SigV4Encoding.encode($0.name, keepingSlashes: false) + "=" + SigV4Encoding.encode($0.value, keepingSlashes: false) }
            .joined(separator: "&")
        var request = HTTPClientRequest(url: endpoint.origin + path + (query.isEmpty ? "" : "?" + queryText))
        request.method = .POST
        for header in headers where header.name != "Host" { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do { response = try await httpClient.execute(request, timeout: .init(deadline)) } catch {
            throw VoiceProviderError.unreachable("\(endpoint.host): \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let text = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            let message = Self.message(in: text, type: response.headers.first(name: "x-amzn-ErrorType"))
            if response.status == .tooManyRequests || message.contains("Throttling") { throw VoiceProviderError.throttled(message) }
            throw VoiceProviderError.status(Int(response.status.code), message)
        }
        return response
    }

    /// The provider's words in an error body (`message`, `Message`, `err_msg`, `error`), with its error type.
    static func message(in body: String, type: String?) -> String {
        var parts: [String] = []
        if let type { parts.append(String(type.split(separator: ":").first ?? Substring(type))) }
        if let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] {
            for key in ["message", "Message", "err_msg", "error"] { if let text = object[key] as? String { parts.append(text); break } }
        } else if !body.isEmpty {
            parts.append(String(body.prefix(200)))
        }
        return parts.isEmpty ? "no details" : parts.joined(separator: ": ")
    }
}

/// 16-bit little-endian PCM bytes as they arrive (a chunk may split a sample) into samples.
struct PCMAssembler {
    private var carry: UInt8?

    mutating func samples(from buffer: ByteBuffer) -> [Int16] {
        var bytes = Array(buffer.readableBytesView)
        if let carry { bytes.insert(carry, at: 0) }
        carry = bytes.count % 2 == 1 ? bytes.removeLast() : nil
        return stride(from: 0, to: bytes.count, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
    }
}
