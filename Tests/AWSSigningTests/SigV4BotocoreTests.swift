import AWSSigning
import Foundation
import TestSupport
import Testing


/// One random request, in the form the botocore oracle reads.
struct OracleCase: Encodable {
    var method: String
    var url: String
    var headers: [[String]]
    var body: String
    var service: String
    var region: String
    var key: String
    var secret: String
    var token: String?
    var time: String

    /// The same request as our signer takes it.
    var request: SigV4Request
    var date: Date

    enum CodingKeys: String, CodingKey { case method, url, headers, body, service, region, key, secret, token, time }

    static func random(_ generator: inout SplitMix64) -> OracleCase {
        func pick<T>(_ items: [T]) -> T { items.randomElement(using: &generator)! }
        func text(_ alphabet: [String], _ lengths: ClosedRange<Int>) -> String {
            (0..<Int.random(in: lengths, using: &generator)).map { _ in pick(alphabet) }.joined()
        }
        let plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".map(String.init)
        let wild = plain + ["-", "_", ".", "~", " ", "/", "%", "+", "=", "&", ":", "@", "!", "*", "'", "(", ")", ",", ";", "é", "ሴ", "😀", "?", "#"]
        let service = pick(["s3", "s3", "bedrock", "execute-api", "sts"])
        let host = service == "s3" ? "bucket.s3.eu-west-1.amazonaws.com" : "\(service).eu-west-1.amazonaws.com"

        // The path as it goes on the wire: encoded segments, and for services that
        // normalize, dot segments and repeated slashes to normalize away.
        var segments = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
            SigV4Encoding.encode(text(wild, 1...8), keepingSlashes: false)
        }
        if service != "s3" && Bool.random(using: &generator) {
            segments.insert(pick([".", "..", ""]), at: Int.random(in: 0...segments.count, using: &generator))
        }
        let path = "/" + segments.joined(separator: "/") + (Bool.random(using: &generator) ? "/" : "")

        let query = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
            SigV4Request.QueryItem(text(wild, 1...6), Bool.random(using: &generator) ? "" : text(wild, 1...10))
        }
        let queryText = query.map { "\(SigV4Encoding.encode($0.name, keepingSlashes: false))=\(SigV4Encoding.encode($0.value, keepingSlashes: false))" }
            .joined(separator: "&")

        var headers = [SigV4Request.Header("Host", host)]
        let names = ["Content-Type", "x-amz-meta-Patient", "X-Custom", "Accept", "x-amz-target", "User-Agent", "Cache-Control"]
        for _ in 0..<Int.random(in: 0...5, using: &generator) {
            let name = pick(names)
            let casedName = Bool.random(using: &generator) ? name.lowercased() : name
            let value = pick(["", " ", "  "]) + text(plain + [" ", "  ", "\t", ",", ";", "=", "\""], 1...12) + pick(["", " "])
            headers.append(.init(casedName, value))
        }
        let body = Bool.random(using: &generator) ? Data() : Data(text(wild, 1...40).utf8)
        let date = Date(timeIntervalSince1970: Double(Int.random(in: 1_400_000_000...2_000_000_000, using: &generator)))
        let token = Bool.random(using: &generator) ? text(plain + ["/", "+", "="], 20...60) : nil
        let secret = text(plain + ["/", "+"], 40...40)
        return OracleCase(
            method: pick(["GET", "PUT", "POST", "DELETE", "HEAD"]), url: "https://\(host)\(path)\(queryText.isEmpty ? "" : "?" + queryText)",
            headers: headers.map { [$0.name, $0.value] }, body: body.map { String(format: "%02x", $0) }.joined(),
            service: service, region: "eu-west-1", key: "AKID" + text(plain, 16...16), secret: secret, token: token,
            time: Self.stamp(date),
            request: SigV4Request(method: "", path: path, query: query, headers: headers, payloadHash: SigV4Encoding.payloadHash(body)),
            date: date)
    }

    static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}

/// Our signer against botocore's on random requests: paths with every kind of character,
/// dot segments, repeated and reordered query parameters, repeated headers with messy
/// whitespace, bodies, session tokens, S3 and other services.
@Suite struct SigV4BotocoreTests {
    struct OracleAnswer: Decodable {
        var authorization: String
        var headers: [String: String]
        var canonical_request: String
    }

    @Test func agreesWithBotocoreOnRandomRequests() throws {
        var generator = SplitMix64(seed: 20_261_126)
        var cases: [OracleCase] = []
        for _ in 0..<400 {
            var oracleCase = OracleCase.random(&generator)
            oracleCase.request.method = oracleCase.method
            cases.append(oracleCase)
        }
        let answers = try askBotocore(cases)
        try #require(answers.count == cases.count)
        var mismatches = 0
        for (oracleCase, answer) in zip(cases, answers) {
            let signer = SigV4Signer(region: oracleCase.region, service: oracleCase.service)
            let signature = signer.signHeaders(
                oracleCase.request,
                credentials: AWSCredentials(accessKeyID: oracleCase.key, secretAccessKey: oracleCase.secret, sessionToken: oracleCase.token),
                date: oracleCase.date, signsPayloadHeader: oracleCase.service == "s3")
            let ours = Dictionary(signature.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            if ours["Authorization"] != answer.authorization {
                mismatches += 1
                if mismatches <= 3 {
                    Issue.record("\(oracleCase.method) \(oracleCase.url)\nours:\n\(signature.canonicalRequest)\nbotocore:\n\(answer.canonical_request)")
                }
            }
            for (name, value) in answer.headers { #expect(ours[name] == value, "\(name) for \(oracleCase.url)") }
        }
        #expect(mismatches == 0)
    }

    func askBotocore(_ cases: [OracleCase]) throws -> [OracleAnswer] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/sigv4-oracle.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(try JSONEncoder().encode(cases))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OracleError(description: "botocore oracle failed (make test installs botocore with moto): \(problems)")
        }
        return try JSONDecoder().decode([OracleAnswer].self, from: data)
    }

    struct OracleError: Error, CustomStringConvertible { var description: String }
}
