import Foundation
import HHProtocol
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A local stand-in for hh-relay's `POST /v1/sessions`, as the contract describes it: checks
/// the bearer token, stores each session id once (a replay of the same document answers as
/// the first time, a different one 409), and can be told to fail, throttle or be slow. It can
/// be stopped and started again on the same port (the relay "down for a while").
final class TestRelay: Sendable {
    /// What the relay does with the next request.
    enum Behaviour: Sendable {
        case normal
        case status(Int, retryAfter: String?)
        /// 307 to `location`.
        case redirect(String)
    }

    struct Upload: Sendable {
        var id: String
        var body: Data
        var time: Date
        var status: Int
    }

    private struct State {
        var uploads: [Upload] = []
        var stored: [String: Data] = [:]
        var storedOrder: [String] = []
        var behaviour: (@Sendable (String, Int) -> Behaviour) = { _, _ in .normal }
        var delay: Double = 0
    }

    let token: String
    private let state = Mutex(State())
    private let channel = Mutex<(any Channel)?>(nil)
    private let boundPort: Mutex<Int>
    /// The port the relay listens on (fixed after the first start).
    var port: Int { boundPort.withLock { $0 } }

    /// A relay listening on a free port (or on `port`).
    init(token: String = "test-token", port: Int = 0) throws {
        self.token = token
        self.boundPort = Mutex(port)
        try start()
    }

    /// Starts listening (again) on the relay's port.
    func start() throws {
        let handlerState = self
        let bound = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(relay: handlerState))
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
        let actual = bound.localAddress?.port ?? port
        boundPort.withLock { $0 = actual }
        channel.withLock { $0 = bound }
    }

    /// Stops listening: connections are refused until ``start()``.
    func stop() throws {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try bound?.close().wait()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Every request, in arrival order.
    var uploads: [Upload] { state.withLock { $0.uploads } }
    /// Session ids in the order they were first stored.
    var storedOrder: [String] { state.withLock { $0.storedOrder } }
    /// The stored documents by id.
    var stored: [String: Data] { state.withLock { $0.stored } }

    /// Decides per request (session id, attempt number for that id) what to answer.
    func behave(_ behaviour: @escaping @Sendable (String, Int) -> Behaviour) {
        state.withLock { $0.behaviour = behaviour }
    }

    /// Answers every request only after `seconds`.
    func slow(_ seconds: Double) {
        state.withLock { $0.delay = seconds }
    }

    /// The relay's answer to one upload.
    fileprivate func handle(authorization: String?, body: Data) -> (Int, [(String, String)], Data, Double) {
        guard authorization == "Bearer \(token)" else {
            return (401, [], Data(#"{"error":{"code":"unauthorized","message":"missing or invalid device token"}}"#.utf8), 0)
        }
        guard let document = try? WireJSON.decoder().decode(SessionDocument.self, from: body) else {
            return (400, [], Data(#"{"error":{"code":"malformed","message":"not a session document"}}"#.utf8), 0)
        }
        return state.withLock { state in
            let attempt = state.uploads.filter { $0.id == document.id }.count + 1
            var status = 201
            var headers: [(String, String)] = []
            var reply = Data(#"{"id":"\#(document.id)","stored":true}"#.utf8)
            switch state.behaviour(document.id, attempt) {
            case .status(let code, let retryAfter):
                status = code
                if let retryAfter { headers.append(("Retry-After", retryAfter)) }
                reply = Data(#"{"error":{"code":"test","message":"told to answer \#(code)"}}"#.utf8)
            case .redirect(let location):
                status = 307
                headers.append(("Location", location))
                reply = Data()
            case .normal:
                if let existing = state.stored[document.id] {
                    if existing != body {
                        status = 409
                        reply = Data(#"{"error":{"code":"conflict","message":"another document under this id"}}"#.utf8)
                    } else {
                        status = 200
                    }
                } else {
                    state.stored[document.id] = body
                    state.storedOrder.append(document.id)
                }
            }
            state.uploads.append(Upload(id: document.id, body: body, time: Date(), status: status))
            return (status, headers, reply, state.delay)
        }
    }

    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let relay: TestRelay
        private let request = Mutex<(head: HTTPRequestHead?, body: Data)>((nil, Data()))

        init(relay: TestRelay) { self.relay = relay }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch Self.unwrapInboundIn(data) {
            case .head(let head):
                request.withLock { $0 = (head, Data()) }
            case .body(let buffer):
                request.withLock { $0.body.append(contentsOf: buffer.readableBytesView) }
            case .end:
                let (head, body) = request.withLock { $0 }
                guard let head else { return }
                var status = 404
                var headers: [(String, String)] = []
                var reply = Data(#"{"error":{"code":"not_found","message":"no such route"}}"#.utf8)
                var delay = 0.0
                if head.method == .POST, head.uri == "/v1/sessions" {
                    (status, headers, reply, delay) = relay.handle(authorization: head.headers.first(name: "Authorization"), body: body)
                }
                var responseHeaders = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(reply.count)")])
                for (name, value) in headers { responseHeaders.add(name: name, value: value) }
                let response = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: responseHeaders)
                let channel = context.channel
                let replyBody = reply
                let send: @Sendable () -> Void = {
                    channel.write(HTTPServerResponsePart.head(response), promise: nil)
                    channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: replyBody))), promise: nil)
                    channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                }
                if delay > 0 {
                    channel.eventLoop.scheduleTask(in: .milliseconds(Int64(delay * 1000))) { send() }
                } else {
                    send()
                }
            }
        }
    }
}
