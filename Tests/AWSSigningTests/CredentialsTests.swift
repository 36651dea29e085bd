import AWSSigning
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@Suite struct CredentialsTests {
    @Test func environmentKeys() throws {
        #expect(try AWSCredentialChain.environmentCredentials([:]) == nil)
        let credentials = try AWSCredentialChain.environmentCredentials([
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
        ])
        #expect(credentials == AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token"))
        #expect(throws: AWSCredentialsError.self) { try AWSCredentialChain.environmentCredentials(["AWS_ACCESS_KEY_ID": "AKID"]) }
        #expect(throws: AWSCredentialsError.self) { try AWSCredentialChain.environmentCredentials(["AWS_SECRET_ACCESS_KEY": "s"]) }
    }

    @Test func sharedCredentialsFile() throws {
        let file = """
            # comment
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key=defaultsecret

            [clinic]
            aws_access_key_id = AKIDCLINIC
            aws_secret_access_key = clinic/secret+
            aws_session_token = tok
            """
        #expect(try AWSCredentialChain.profileCredentials(file, profile: "default") == AWSCredentials(accessKeyID: "AKIDDEFAULT", secretAccessKey: "defaultsecret"))
        #expect(try AWSCredentialChain.profileCredentials(file, profile: "clinic") == AWSCredentials(accessKeyID: "AKIDCLINIC", secretAccessKey: "clinic/secret+", sessionToken: "tok"))
        #expect(try AWSCredentialChain.profileCredentials(file, profile: "other") == nil)

        let path = NSTemporaryDirectory() + "credentials-\(UUID().uuidString)"
        try file.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let environment = ["AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "clinic"]
        #expect(try AWSCredentialChain.provider(environment: environment) is StaticCredentialProvider)
        #expect(throws: AWSCredentialsError.self) {
            try AWSCredentialChain.provider(environment: ["AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "missing"])
        }
    }

    @Test func nothingConfiguredSaysWhatWasTried() {
        #expect {
            try AWSCredentialChain.provider(environment: ["HOME": "/nonexistent"])
        } throws: { error in
            "\(error)".contains("AWS_ACCESS_KEY_ID") && "\(error)".contains("task role")
        }
    }

    @Test func containerEndpointRules() throws {
        let relative = try #require(try ContainerCredentialProvider.Endpoint(environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"]))
        #expect(relative.url == "http://169.254.170.2/v2/credentials/abc")
        #expect(try ContainerCredentialProvider.Endpoint(environment: [:]) == nil)
        #expect(throws: AWSCredentialsError.self) {
            try ContainerCredentialProvider.Endpoint(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://evil.example.com/creds"])
        }
        let full = try #require(try ContainerCredentialProvider.Endpoint(environment: [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret-token",
        ]))
        #expect(full.authorization == "secret-token")
    }

    @Test func containerCredentialsAreFetchedWithTheTokenAndKeptUntilNearExpiry() async throws {
        let expiry = Date().addingTimeInterval(3600)
        let formatter = ISO8601DateFormatter()
        let server = try await CredentialsServer.start(body: """
            {"AccessKeyId":"ASIATEST","SecretAccessKey":"role/secret","Token":"session-token","Expiration":"\(formatter.string(from: expiry))"}
            """)
        let provider = try AWSCredentialChain.provider(environment: [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(server.port)/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "auth-token",
        ])
        let first = try await provider.credentials()
        #expect(first.accessKeyID == "ASIATEST" && first.secretAccessKey == "role/secret" && first.sessionToken == "session-token")
        #expect(abs(try #require(first.expiration).timeIntervalSince(expiry)) < 1)
        async let a = provider.credentials()
        async let b = provider.credentials()
        _ = try await (a, b)
        #expect(server.requests == ["auth-token"], "fetched once, with the authorization token")
        try await server.stop()

        // Credentials that expire within five minutes are fetched again.
        let soon = try await CredentialsServer.start(body: """
            {"AccessKeyId":"ASIASOON","SecretAccessKey":"s","Token":"t","Expiration":"\(formatter.string(from: Date().addingTimeInterval(60)))"}
            """)
        let refreshing = ContainerCredentialProvider(
            endpoint: try #require(try .init(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(soon.port)/"])),
            httpClient: .shared)
        _ = try await refreshing.credentials()
        _ = try await refreshing.credentials()
        #expect(soon.requests.count == 2)
        try await soon.stop()
    }

    @Test func anEndpointThatAnswersGarbageIsAClearError() async throws {
        let server = try await CredentialsServer.start(body: "<html>not credentials</html>")
        let provider = ContainerCredentialProvider(
            endpoint: try #require(try .init(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(server.port)/"])),
            httpClient: .shared)
        await #expect(throws: AWSCredentialsError.self) { try await provider.credentials() }
        try await server.stop()
    }
}

/// A one-route HTTP server standing in for the ECS agent's credentials endpoint; it records
/// the `Authorization` header of every request.
final class CredentialsServer: Sendable {
    let channel: any Channel
    let port: Int
    private let seen = Mutex<[String]>([])

    var requests: [String] { seen.withLock { $0 } }

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    static func start(body: String) async throws -> CredentialsServer {
        let box = Mutex<CredentialsServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(body: body) { authorization in
                        box.withLock { $0?.seen.withLock { $0.append(authorization) } }
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = CredentialsServer(channel: channel)
        box.withLock { $0 = server }
        return server
    }

    func stop() async throws { try await channel.close() }

    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let body: String
        let record: @Sendable (String) -> Void

        init(body: String, record: @escaping @Sendable (String) -> Void) {
            self.body = body
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                record(head.headers["Authorization"].first ?? "")
            case .body:
                break
            case .end:
                var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(body.utf8.count)")])
                headers.add(name: "Connection", value: "close")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
            }
        }
    }
}
