import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// An access key, with the session token and expiry of temporary credentials.
public struct AWSCredentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Present for temporary credentials (a role's), sent as `X-Amz-Security-Token`.
    public var sessionToken: String?
    /// When temporary credentials stop working.
    public var expiration: Date?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }
}

/// Why no credentials could be had.
public struct AWSCredentialsError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Something that hands out credentials, fresh enough to sign with now.
public protocol AWSCredentialProvider: Sendable {
    /// Credentials valid for at least the next few minutes.
    func credentials() async throws -> AWSCredentials
}

/// Fixed credentials (tests, or keys given explicitly).
public struct StaticCredentialProvider: AWSCredentialProvider {
    public let value: AWSCredentials
    public init(_ value: AWSCredentials) { self.value = value }
    public func credentials() async throws -> AWSCredentials { value }
}

/// The places the AWS SDKs look, in their order: the environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the ECS container endpoint (the task
/// role: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `…_FULL_URI`), then the shared
/// credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`, profile
/// `AWS_PROFILE`, default `default`).
public enum AWSCredentialChain {
    /// The first source the environment points at; an error that names what was tried when none does.
    public static func provider(environment: [String: String], httpClient: HTTPClient = .shared) throws(AWSCredentialsError) -> any AWSCredentialProvider {
        if let credentials = try environmentCredentials(environment) { return StaticCredentialProvider(credentials) }
        if let endpoint = try ContainerCredentialProvider.Endpoint(environment: environment) {
            return ContainerCredentialProvider(endpoint: endpoint, httpClient: httpClient)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let path = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let profile = environment["AWS_PROFILE"] ?? "default"
        if let data = FileManager.default.contents(atPath: path) {
            guard let credentials = try profileCredentials(String(decoding: data, as: UTF8.self), profile: profile) else {
                throw AWSCredentialsError("no profile [\(profile)] with aws_access_key_id and aws_secret_access_key in \(path)")
            }
            return StaticCredentialProvider(credentials)
        }
        throw AWSCredentialsError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run on ECS with a task role, or provide \(path)")
    }

    /// Credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.
    public static func environmentCredentials(_ environment: [String: String]) throws(AWSCredentialsError) -> AWSCredentials? {
        let key = environment["AWS_ACCESS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = environment["AWS_SECRET_ACCESS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        switch (key, secret) {
        case (nil, nil): return nil
        case (let key?, let secret?):
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        case (nil, _): throw AWSCredentialsError("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (_, nil): throw AWSCredentialsError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
    }

    /// The profile's keys from a shared credentials file (INI: `[name]` sections of `key = value`).
    public static func profileCredentials(_ text: String, profile: String) throws(AWSCredentialsError) -> AWSCredentials? {
        var section: String?
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard section == profile, let equals = line.firstIndex(of: "=") else { continue }
            values[line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else { return nil }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }
}

/// The ECS task role: temporary credentials from the container credentials endpoint, kept
/// until five minutes before they expire, then fetched again.
public actor ContainerCredentialProvider: AWSCredentialProvider {
    /// Where the endpoint is and how to authenticate to it.
    public struct Endpoint: Sendable, Hashable {
        public var url: String
        /// `Authorization` header value (`AWS_CONTAINER_AUTHORIZATION_TOKEN` or the file named by
        /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`), for full URIs.
        public var authorization: String?

        /// Hosts a plain-HTTP full URI may name (as the AWS SDKs allow): loopback and the ECS/EKS agents.
        static let plainHTTPHosts: Set<String> = ["127.0.0.1", "localhost", "::1", "[::1]", "169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]"]

        /// From the variables ECS sets; `nil` when none is set.
        public init?(environment: [String: String]) throws(AWSCredentialsError) {
            if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
                url = "http://169.254.170.2" + (relative.hasPrefix("/") ? relative : "/" + relative)
            } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
                guard let components = URLComponents(string: full), let scheme = components.scheme, let host = components.host else {
                    throw AWSCredentialsError("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: \(full)")
                }
                guard scheme == "https" || (scheme == "http" && Self.plainHTTPHosts.contains(host)) else {
                    throw AWSCredentialsError("AWS_CONTAINER_CREDENTIALS_FULL_URI must use https or a loopback/ECS agent host: \(full)")
                }
                url = full
            } else {
                return nil
            }
            if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !file.isEmpty {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw AWSCredentialsError("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file)")
                }
                authorization = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                authorization = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            }
        }
    }

    private let endpoint: Endpoint
    private let httpClient: HTTPClient
    private var cached: AWSCredentials?
    private var refresh: Task<AWSCredentials, any Error>?

    /// A provider fetching from `endpoint`.
    public init(endpoint: Endpoint, httpClient: HTTPClient) {
        self.endpoint = endpoint
        self.httpClient = httpClient
    }

    public func credentials() async throws -> AWSCredentials {
        if let cached, cached.expiration.map({ $0.timeIntervalSinceNow > 300 }) ?? true { return cached }
        // One fetch at a time: concurrent signers wait for the same answer.
        if let refresh { return try await refresh.value }
        let task = Task { try await fetch() }
        refresh = task
        defer { refresh = nil }
        let fresh = try await task.value
        cached = fresh
        return fresh
    }

    private func fetch() async throws -> AWSCredentials {
        var request = HTTPClientRequest(url: endpoint.url)
        if let authorization = endpoint.authorization { request.headers.add(name: "Authorization", value: authorization) }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: .seconds(5))
            body = try await response.body.collect(upTo: 64 << 10)
        } catch {
            throw AWSCredentialsError("container credentials endpoint \(endpoint.url) unreachable: \(error)")
        }
        guard response.status == .ok else {
            throw AWSCredentialsError("container credentials endpoint \(endpoint.url) answered \(response.status.code)")
        }
        return try Self.decode(Data(buffer: body))
    }

    /// Reads the endpoint's JSON (`AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`).
    public static func decode(_ data: Data) throws(AWSCredentialsError) -> AWSCredentials {
        struct Answer: Decodable {
            var AccessKeyId: String
            var SecretAccessKey: String
            var Token: String?
            var Expiration: String?
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: data) else {
            throw AWSCredentialsError("container credentials endpoint answered something other than credentials")
        }
        var expiration: Date?
        if let text = answer.Expiration {
            let formatter = ISO8601DateFormatter()
            guard let date = formatter.date(from: text) else { throw AWSCredentialsError("unreadable credential Expiration \(text)") }
            expiration = date
        }
        return AWSCredentials(accessKeyID: answer.AccessKeyId, secretAccessKey: answer.SecretAccessKey, sessionToken: answer.Token, expiration: expiration)
    }
}
