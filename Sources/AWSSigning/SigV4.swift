import Crypto
import Foundation

/// An HTTP request as AWS Signature Version 4 sees it.
public struct SigV4Request: Sendable, Hashable {
    /// `GET`, `PUT`, …
    public var method: String
    /// The path exactly as it goes on the wire (percent-encoded), starting with `/`.
    public var path: String
    /// Query parameters, decoded; the signer encodes them.
    public var query: [QueryItem]
    /// Headers in the order they are sent; must include `Host`.
    public var headers: [Header]
    /// Hex SHA-256 of the body (``SigV4Signer/emptyPayloadHash`` when there is none), or
    /// `UNSIGNED-PAYLOAD` where the service allows it.
    public var payloadHash: String

    /// A query parameter.
    public struct QueryItem: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// A header.
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Creates a request.
    public init(method: String, path: String, query: [QueryItem] = [], headers: [Header], payloadHash: String = SigV4Signer.emptyPayloadHash) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }
}

/// What signing produced: the intermediate texts (for tests and for debugging a
/// `SignatureDoesNotMatch`) and what to add to the request.
public struct SigV4Signature: Sendable, Hashable {
    public var canonicalRequest: String
    public var stringToSign: String
    /// Hex HMAC-SHA256 signature.
    public var signature: String
    /// Headers to add to the request (header signing): `X-Amz-Date`, `X-Amz-Security-Token`,
    /// `X-Amz-Content-SHA256` when asked, and `Authorization`.
    public var headers: [SigV4Request.Header]
    /// Query parameters to add to the URL (presigning), `X-Amz-Signature` last.
    public var query: [SigV4Request.QueryItem]
}

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`): header signing and presigned URLs. Pure:
/// the time and the credentials are arguments. Checked against the official test suite and
/// against botocore.
public struct SigV4Signer: Sendable, Hashable {
    /// The region, e.g. `eu-west-1`.
    public var region: String
    /// The signing name of the service, e.g. `s3` or `bedrock`.
    public var service: String
    /// Remove `.`/`..` segments and repeated slashes from the path before signing. Every
    /// service but S3 does.
    public var normalizesPath: Bool
    /// Percent-encode the (already encoded) path once more in the canonical request. Every
    /// service but S3 does.
    public var encodesPathAgain: Bool

    /// SHA-256 of nothing.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// A signer with the service's path rules (S3's differ from every other service's).
    public init(region: String, service: String) {
        self.region = region
        self.service = service
        normalizesPath = service != "s3"
        encodesPathAgain = service != "s3"
    }

    /// Signs with an `Authorization` header. `signsPayloadHeader` adds `X-Amz-Content-SHA256`
    /// (S3 requires it). `omitsSessionToken` adds the token after signing instead of signing
    /// it (a few services want that).
    public func signHeaders(
        _ request: SigV4Request, credentials: AWSCredentials, date: Date, signsPayloadHeader: Bool = false,
        omitsSessionToken: Bool = false
    ) -> SigV4Signature {
        let time = SigV4Time(date)
        var added = [SigV4Request.Header("X-Amz-Date", time.stamp)]
        if let token = credentials.sessionToken, !omitsSessionToken { added.append(.init("X-Amz-Security-Token", token)) }
        if signsPayloadHeader { added.append(.init("X-Amz-Content-SHA256", request.payloadHash)) }
        let signed = Self.canonicalHeaders(request.headers + added)
        let canonical = canonicalRequest(request, query: request.query, headers: signed)
        let scope = scope(time)
        let stringToSign = Self.stringToSign(canonical, time: time, scope: scope)
        let signature = sign(stringToSign, secret: credentials.secretAccessKey, time: time)
        added.append(.init(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signed.names), Signature=\(signature)"))
        if let token = credentials.sessionToken, omitsSessionToken { added.append(.init("X-Amz-Security-Token", token)) }
        return SigV4Signature(canonicalRequest: canonical, stringToSign: stringToSign, signature: signature, headers: added, query: [])
    }

    /// Presigns: the signature goes in the query string, valid for `expires` seconds.
    public func presign(
        _ request: SigV4Request, credentials: AWSCredentials, date: Date, expires: Int, omitsSessionToken: Bool = false
    ) -> SigV4Signature {
        let time = SigV4Time(date)
        let scope = scope(time)
        let signed = Self.canonicalHeaders(request.headers)
        var added: [SigV4Request.QueryItem] = [
            .init("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            .init("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"),
            .init("X-Amz-Date", time.stamp),
            .init("X-Amz-Expires", String(expires)),
            .init("X-Amz-SignedHeaders", signed.names),
        ]
        if let token = credentials.sessionToken, !omitsSessionToken { added.append(.init("X-Amz-Security-Token", token)) }
        let canonical = canonicalRequest(request, query: request.query + added, headers: signed)
        let stringToSign = Self.stringToSign(canonical, time: time, scope: scope)
        let signature = sign(stringToSign, secret: credentials.secretAccessKey, time: time)
        if let token = credentials.sessionToken, omitsSessionToken { added.append(.init("X-Amz-Security-Token", token)) }
        added.append(.init("X-Amz-Signature", signature))
        return SigV4Signature(canonicalRequest: canonical, stringToSign: stringToSign, signature: signature, headers: [], query: added)
    }

    // MARK: - The canonical request

    func canonicalRequest(_ request: SigV4Request, query: [SigV4Request.QueryItem], headers: CanonicalHeaders) -> String {
        [request.method.uppercased(), canonicalPath(request.path), Self.canonicalQuery(query), headers.block, headers.names, request.payloadHash]
            .joined(separator: "\n")
    }

    func canonicalPath(_ path: String) -> String {
        let path = normalizesPath ? Self.normalized(path) : path
        return encodesPathAgain ? SigV4Encoding.encode(path, keepingSlashes: true) : path
    }

    /// Removes `.` and `..` segments and empty segments, keeping a trailing slash.
    static func normalized(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        let joined = "/" + segments.joined(separator: "/")
        return path.hasSuffix("/") && joined != "/" ? joined + "/" : joined
    }

    static func canonicalQuery(_ items: [SigV4Request.QueryItem]) -> String {
        items.map { (SigV4Encoding.encode($0.name, keepingSlashes: false), SigV4Encoding.encode($0.value, keepingSlashes: false)) }
            .sorted { $0.0 == $1.0 ? $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) : $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// The signed headers: lower-case names, sorted; repeated headers' values joined by commas
    /// in the order sent; values trimmed with runs of whitespace made one space.
    struct CanonicalHeaders {
        var block: String
        var names: String
    }

    /// Headers never signed (as botocore: clients and proxies change them).
    static let unsignedHeaders: Set<String> = ["authorization", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"]

    static func canonicalHeaders(_ headers: [SigV4Request.Header]) -> CanonicalHeaders {
        var values: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            guard !unsignedHeaders.contains(name) else { continue }
            values[name, default: []].append(header.value.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        }
        let names = values.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let block = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return CanonicalHeaders(block: block, names: names.joined(separator: ";"))
    }

    // MARK: - String to sign and signature

    func scope(_ time: SigV4Time) -> String { "\(time.day)/\(region)/\(service)/aws4_request" }

    static func stringToSign(_ canonicalRequest: String, time: SigV4Time, scope: String) -> String {
        "AWS4-HMAC-SHA256\n\(time.stamp)\n\(scope)\n\(SigV4Encoding.hex(SHA256.hash(data: Data(canonicalRequest.utf8))))"
    }

    func sign(_ stringToSign: String, secret: String, time: SigV4Time) -> String {
        func hmac(_ key: SymmetricKey, _ text: String) -> SymmetricKey {
            SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key))
        }
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [time.day, region, service, "aws4_request"] { key = hmac(key, part) }
        return SigV4Encoding.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }
}

/// The signing time in SigV4's two spellings.
struct SigV4Time {
    /// `20150830T123600Z`
    var stamp: String
    /// `20150830`
    var day: String

    init(_ date: Date) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        day = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))"
        stamp = "\(day)T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}

/// SigV4's percent-encoding (RFC 3986 unreserved characters kept, everything else `%XX`
/// of its UTF-8 bytes, upper-case hex).
public enum SigV4Encoding {
    /// Encodes `text`; `keepingSlashes` for paths.
    public static func encode(_ text: String, keepingSlashes: Bool) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        let digits = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                output.append(byte)
            case UInt8(ascii: "/") where keepingSlashes:
                output.append(byte)
            default:
                output += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 15)]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Lower-case hex of `bytes`.
    public static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var output: [UInt8] = []
        for byte in bytes { output += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: output, as: UTF8.self)
    }

    /// Hex SHA-256 of `data`: the payload hash of a body.
    public static func payloadHash<Bytes: DataProtocol>(_ data: Bytes) -> String {
        hex(SHA256.hash(data: data))
    }
}
