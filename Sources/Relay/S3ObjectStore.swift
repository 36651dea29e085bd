import AWSSigning
import AsyncHTTPClient
import Foundation
import HHProtocol
import NIOCore
import NIOHTTP1

/// Where objects live in S3.
public struct S3Location: Sendable, Hashable {
    /// The bucket.
    public var bucket: String
    /// Prepended to every key (e.g. `prod/`), empty for none.
    public var prefix: String
    /// The bucket's region.
    public var region: String
    /// An S3-compatible endpoint (`http://127.0.0.1:5000` for moto, MinIO…), addressed
    /// path-style; `nil` for AWS, addressed virtual-hosted style over HTTPS.
    public var endpoint: String?

    /// Creates a location.
    public init(bucket: String, prefix: String = "", region: String, endpoint: String? = nil) {
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.endpoint = endpoint
    }

    /// Where the bucket itself is (for listing): origin, `Host` and path.
    public func bucketAddress() -> (origin: String, host: String, path: String) {
        address(ofEncodedKey: nil)
    }

    /// Where `key` is: the URL's origin (`scheme://host[:port]`), the `Host` header and the
    /// path as sent (percent-encoded, bucket first when path-style).
    public func address(of key: ObjectKey) -> (origin: String, host: String, path: String) {
        address(ofEncodedKey: SigV4Encoding.encode(prefix + key.text, keepingSlashes: true))
    }

    /// Path-style under an endpoint, virtual-hosted on AWS; `nil`: the bucket itself.
    private func address(ofEncodedKey encodedKey: String?) -> (origin: String, host: String, path: String) {
        if let endpoint, let components = URLComponents(string: endpoint), let scheme = components.scheme, let host = components.host {
            let authority = components.port.map { "\(host):\($0)" } ?? host
            let base = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
            let bucketPath = "\(base)/\(SigV4Encoding.encode(bucket, keepingSlashes: false))"
            return ("\(scheme)://\(authority)", authority, encodedKey.map { bucketPath + "/" + $0 } ?? bucketPath)
        }
        let host = "\(bucket).s3.\(region).amazonaws.com"
        return ("https://\(host)", host, "/" + (encodedKey ?? ""))
    }
}

/// Objects in an S3 bucket over plain HTTPS (async-http-client), each request signed with
/// our own SigV4 and the payload's SHA-256.
public struct S3ObjectStore: ObjectStore {
    public let location: S3Location
    private let credentials: any AWSCredentialProvider
    private let httpClient: HTTPClient
    private let signer: SigV4Signer
    /// Longest a request may take.
    private let timeout: TimeAmount

    /// A store in `location`, signing with `credentials`.
    public init(location: S3Location, credentials: any AWSCredentialProvider, httpClient: HTTPClient = .shared, timeout: TimeAmount = .seconds(10)) {
        self.location = location
        self.credentials = credentials
        self.httpClient = httpClient
        self.timeout = timeout
        signer = SigV4Signer(region: location.region, service: "s3")
    }

    public func put(_ bytes: ByteBuffer, at key: ObjectKey, contentType: String) async throws(ObjectStoreError) {
        let response = try await send(.PUT, key, body: bytes, contentType: contentType)
        guard response.status == .ok else { throw Self.failure(response) }
    }

    public func get(_ key: ObjectKey) async throws(ObjectStoreError) -> ByteBuffer? {
        let response = try await send(.GET, key)
        if response.status == .notFound && response.code == "NoSuchKey" { return nil }
        guard response.status == .ok else { throw Self.failure(response) }
        return response.body
    }

    public func delete(_ key: ObjectKey) async throws(ObjectStoreError) {
        let response = try await send(.DELETE, key)
        guard response.status == .noContent || response.status == .ok else { throw Self.failure(response) }
    }

    /// HeadObject's `Last-Modified`.
    public func modified(_ key: ObjectKey) async throws(ObjectStoreError) -> Date? {
        let response = try await send(.HEAD, key)
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw Self.failure(response) }
        guard let text = response.headers.first(name: "Last-Modified"), let date = Self.httpDate(text) else {
            throw .unavailable("S3 HEAD \(key.text): no readable Last-Modified")
        }
        return date
    }

    /// An HTTP date (`Wed, 02 Dec 2026 06:40:01 GMT`).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// ListObjectsV2, page after page (1000 keys each).
    public func list(prefix: String) async throws(ObjectStoreError) -> [StoredObject] {
        var found: [StoredObject] = []
        var continuation: String?
        repeat {
            var query = [SigV4Request.QueryItem("list-type", "2"), .init("prefix", location.prefix + prefix)]
            if let continuation { query.append(.init("continuation-token", continuation)) }
            let response = try await send(.GET, nil, query: query)
            guard response.status == .ok else { throw Self.failure(response) }
            let text = String(buffer: response.body)
            for entry in text.components(separatedBy: "<Contents>").dropFirst() {
                guard let name = Self.element("Key", in: entry), name.hasPrefix(location.prefix),
                      let key = try? ObjectKey(String(name.dropFirst(location.prefix.count))),
                      let modified = Self.element("LastModified", in: entry).flatMap(WireTimestamp.parse) else { continue }
                found.append(StoredObject(key: key, modified: modified))
            }
            continuation = Self.element("IsTruncated", in: text) == "true" ? Self.element("NextContinuationToken", in: text) : nil
        } while continuation != nil
        return found
    }

    /// An S3 answer: status, body, and the error code of an error body.
    struct Answer {
        var status: HTTPResponseStatus
        var body: ByteBuffer
        var headers: HTTPHeaders = [:]
        var code: String?
        var message: String?
    }

    /// Sends one signed request for `key` (`nil`: the bucket itself) with `query`.
    private func send(
        _ method: HTTPMethod, _ key: ObjectKey?, query: [SigV4Request.QueryItem] = [], body: ByteBuffer? = nil, contentType: String? = nil
    ) async throws(ObjectStoreError) -> Answer {
        let credentials: AWSCredentials
        do { credentials = try await self.credentials.credentials() } catch {
            throw .unavailable("no AWS credentials: \(error)")
        }
        let address = key.map(location.address(of:)) ?? location.bucketAddress()
        var headers = [SigV4Request.Header("Host", address.host)]
        if let contentType { headers.append(.init("Content-Type", contentType)) }
        let payloadHash = body.map { $0.withUnsafeReadableBytes { SigV4Encoding.payloadHash(UnsafeRawBufferPointer($0)) } } ?? SigV4Signer.emptyPayloadHash
        let unsigned = SigV4Request(method: method.rawValue, path: address.path, query: query, headers: headers, payloadHash: payloadHash)
        let signature = signer.signHeaders(unsigned, credentials: credentials, date: Date(), signsPayloadHeader: true)

        let queryText = query.map { SigV4Encoding.encode($0.name, keepingSlashes: false) + "=" + SigV4Encoding.encode($0.value, keepingSlashes: false) }
            .joined(separator: "&")
        var request = HTTPClientRequest(url: address.origin + address.path + (query.isEmpty ? "" : "?" + queryText))
        request.method = method
        for header in headers + signature.headers { request.headers.add(name: header.name, value: header.value) }
        if let body { request.body = .bytes(body) }
        do {
            let response = try await httpClient.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: 64 << 20)
            var answer = Answer(status: response.status, body: bytes, headers: response.headers)
            if !(200..<300).contains(response.status.code) {
                let text = String(buffer: bytes)
                answer.code = Self.element("Code", in: text)
                answer.message = Self.element("Message", in: text)
            }
            return answer
        } catch {
            throw .unavailable("S3 \(method.rawValue) \(location.bucket)/\(location.prefix)\(key?.text ?? ""): \(error)")
        }
    }

    /// The text of the first `<name>…</name>` in an S3 error body.
    static func element(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: "<\(name)>"), let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    /// Throttling and server errors are passing; the rest (credentials, permissions, a
    /// missing bucket, a bad request) need someone to fix the configuration.
    static func failure(_ answer: Answer) -> ObjectStoreError {
        let text = "S3 answered \(answer.status.code) \(answer.code ?? "")\(answer.message.map { ": \($0)" } ?? "")"
        return answer.status.code >= 500 || answer.status == .tooManyRequests ? .unavailable(text) : .refused(text)
    }
}
