import AWSSigning
import Foundation
import Testing

/// The official SigV4 test suite (awslabs/aws-c-auth), kept in ../shared/testdata.
let testSuiteDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("../shared/testdata/aws-sigv4-test-suite/v4").standardizedFileURL

/// One case folder: the request, its context and the expected texts.
struct SuiteCase: CustomTestStringConvertible, Sendable {
    var name: String
    var request: SigV4Request
    var credentials: AWSCredentials
    var region: String
    var service: String
    var normalize: Bool
    var signBody: Bool
    var omitSessionToken: Bool
    var date: Date
    var expires: Int

    var testDescription: String { name }
    var folder: URL { testSuiteDirectory.appendingPathComponent(name) }

    func expected(_ file: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
    }

    static var all: [SuiteCase] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: testSuiteDirectory.path)) ?? []
        return names.sorted().compactMap { try? SuiteCase(name: $0) }
    }

    init(name: String) throws {
        self.name = name
        let folder = testSuiteDirectory.appendingPathComponent(name)
        struct Context: Decodable {
            struct Credentials: Decodable {
                var access_key_id: String
                var secret_access_key: String
                var token: String?
            }
            var credentials: Credentials
            var expiration_in_seconds: Int
            var normalize: Bool
            var region: String
            var service: String
            var sign_body: Bool
            var timestamp: String
            var omit_session_token: Bool?
        }
        let context = try JSONDecoder().decode(Context.self, from: Data(contentsOf: folder.appendingPathComponent("context.json")))
        credentials = AWSCredentials(
            accessKeyID: context.credentials.access_key_id, secretAccessKey: context.credentials.secret_access_key,
            sessionToken: context.credentials.token)
        region = context.region
        service = context.service
        normalize = context.normalize
        signBody = context.sign_body
        omitSessionToken = context.omit_session_token ?? false
        expires = context.expiration_in_seconds
        date = try #require(ISO8601DateFormatter().date(from: context.timestamp))
        request = try Self.parse(Data(contentsOf: folder.appendingPathComponent("request.txt")))
    }

    /// Parses `request.txt`: request line, headers (continuation lines fold into the
    /// previous header), blank line, body.
    static func parse(_ data: Data) throws -> SigV4Request {
        let text = String(decoding: data, as: UTF8.self)
        let parts = text.components(separatedBy: "\n\n")
        var lines = parts[0].components(separatedBy: "\n")
        let body = parts.dropFirst().joined(separator: "\n\n")
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        var target = String(requestLine.dropFirst(method.count + 1))
        if target.hasSuffix(" HTTP/1.1") { target.removeLast(" HTTP/1.1".count) }
        let (path, queryText) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) } ?? (target, "")
        let query = queryText.isEmpty ? [] : queryText.split(separator: "&").map { pair -> SigV4Request.QueryItem in
            let (name, value) = pair.firstIndex(of: "=").map { (pair[..<$0], pair[pair.index(after: $0)...]) } ?? (pair[...], ""[...])
            return .init(String(name).removingPercentEncoding ?? String(name), String(value).removingPercentEncoding ?? String(value))
        }
        var headers: [SigV4Request.Header] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t" {
                headers[headers.count - 1].value += "\n" + line
            } else {
                let colon = try #require(line.firstIndex(of: ":"))
                headers.append(.init(String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return SigV4Request(method: method, path: path, query: query, headers: headers, payloadHash: SigV4Encoding.payloadHash(Data(body.utf8)))
    }

    var signer: SigV4Signer {
        var signer = SigV4Signer(region: region, service: service)
        signer.normalizesPath = normalize
        signer.encodesPathAgain = true
        return signer
    }
}

/// Runs wherever the tests run: missing vectors are a failure, never a silent skip.
@Suite struct SigV4TestSuiteTests {
    @Test func theSuiteIsThere() {
        #expect(FileManager.default.fileExists(atPath: testSuiteDirectory.path), "the SigV4 test suite is not at \(testSuiteDirectory.path)")
        #expect(SuiteCase.all.count >= 30, "found \(SuiteCase.all.count) readable cases of the SigV4 test suite")
    }

    @Test(arguments: SuiteCase.all)
    func headerSigning(_ suiteCase: SuiteCase) throws {
        let signature = suiteCase.signer.signHeaders(
            suiteCase.request, credentials: suiteCase.credentials, date: suiteCase.date, signsPayloadHeader: suiteCase.signBody,
            omitsSessionToken: suiteCase.omitSessionToken)
        #expect(signature.canonicalRequest == (try suiteCase.expected("header-canonical-request.txt")))
        #expect(signature.stringToSign == (try suiteCase.expected("header-string-to-sign.txt")))
        #expect(signature.signature == (try suiteCase.expected("header-signature.txt")))
        let authorization = try suiteCase.expected("header-signed-request.txt")
            .components(separatedBy: "\n").first { $0.hasPrefix("Authorization:") }
        #expect(signature.headers.first { $0.name == "Authorization" }.map { "Authorization:" + $0.value } == authorization)
    }

    @Test(arguments: SuiteCase.all)
    func presigning(_ suiteCase: SuiteCase) throws {
        let signature = suiteCase.signer.presign(
            suiteCase.request, credentials: suiteCase.credentials, date: suiteCase.date, expires: suiteCase.expires,
            omitsSessionToken: suiteCase.omitSessionToken)
        #expect(signature.canonicalRequest == (try suiteCase.expected("query-canonical-request.txt")))
        #expect(signature.stringToSign == (try suiteCase.expected("query-string-to-sign.txt")))
        #expect(signature.signature == (try suiteCase.expected("query-signature.txt")))
        #expect(signature.query.last == .init("X-Amz-Signature", try suiteCase.expected("query-signature.txt")))
        if suiteCase.credentials.sessionToken != nil {
            #expect(signature.query.contains { $0.name == "X-Amz-Security-Token" })
        }
    }

    /// A changed byte anywhere changes the signature: the vectors are not passing by accident.
    @Test func everyInputMatters() throws {
        let base = try SuiteCase(name: "get-vanilla-query")
        let reference = base.signer.signHeaders(base.request, credentials: base.credentials, date: base.date).signature
        var other = base
        other.request.query.append(.init("extra", "1"))
        #expect(other.signer.signHeaders(other.request, credentials: other.credentials, date: other.date).signature != reference)
        other = base
        other.credentials.secretAccessKey += "x"
        #expect(other.signer.signHeaders(other.request, credentials: other.credentials, date: other.date).signature != reference)
        other = base
        other.date += 86_400
        #expect(other.signer.signHeaders(other.request, credentials: other.credentials, date: other.date).signature != reference)
        other = base
        other.region = "eu-west-1"
        #expect(other.signer.signHeaders(other.request, credentials: other.credentials, date: other.date).signature != reference)
    }
}
