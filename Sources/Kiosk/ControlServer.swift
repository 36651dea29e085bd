import EdgeStore
import Foundation
import HHProtocol
import KioskControl
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's control socket: a Unix socket, mode 0660 (the daemon's group may talk to
/// it), serving ``ControlProtocol``. Status answers come from memory and two small indexed
/// queries, well under the 100 ms `hhctl status` allows. The queries run on a thread of their
/// own (``BlockingIO``), never on the event loop that serves the socket.
///
/// Whoever may connect could otherwise hold descriptors forever: a connection that sends no
/// complete request within ``requestTimeout`` is closed, and beyond ``maximumConnections`` a new
/// connection is closed at once (`hhctl` retries are cheap; the daemon's descriptors are not).
final class ControlServer: Service {
    /// How long a connection may take to send its request line.
    static let requestTimeout: TimeAmount = .seconds(5)
    /// Connections served at once.
    static let maximumConnections = 16

    private let connections = Atomic<Int>(0)
    private let path: String
    private let board: StatusBoard
    private let store: EdgeStore
    private let outbox: Doorbell
    private let turns: Doorbell?
    private let logger: Logger
    private let onReady: @Sendable () -> Void
    private let io = BlockingIO(label: "control-store")

    init(
        path: String, board: StatusBoard, store: EdgeStore, outbox: Doorbell, turns: Doorbell? = nil, logger: Logger,
        onReady: @escaping @Sendable () -> Void
    ) {
        self.path = path
        self.board = board
        self.store = store
        self.outbox = outbox
        self.turns = turns
        self.logger = logger
        self.onReady = onReady
    }

    func run() async throws {
        let respond: @Sendable (ByteBuffer) async -> ByteBuffer = { [self] in await self.respond(to: $0) }
        // Created with the final mode at once: no moment where others could connect.
        let previous = umask(0o117)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { [self] channel in
                    guard self.connections.add(1, ordering: .relaxed).newValue <= Self.maximumConnections else {
                        self.connections.subtract(1, ordering: .relaxed)
                        self.logger.warning("control socket: too many connections, one refused")
                        return channel.close()
                    }
                    // A whole deadline, not an idle one: a byte every few seconds does not keep it open.
                    let deadline = channel.eventLoop.scheduleTask(in: Self.requestTimeout) { channel.close(promise: nil) }
                    channel.closeFuture.whenComplete { _ in
                        deadline.cancel()
                        self.connections.subtract(1, ordering: .relaxed)
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder(limit: ControlProtocol.maximumRequestBytes)))
                        try channel.pipeline.syncOperations.addHandler(RequestHandler(respond: respond))
                    }
                }
                // A client may shut its side after the request (`nc -N`): the answer still goes.
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
                .get()
        } catch {
            umask(previous)
            throw DaemonError("cannot listen on the control socket \(path): \(error)")
        }
        umask(previous)
        chmod(path, 0o660)
        logger.info("control socket listening", metadata: ["path": "\(path)"])
        onReady()
        // Closed on graceful shutdown and on cancellation alike (a future's `get()` does not end
        // when its task is cancelled).
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await channel.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        unlink(path)
    }

    /// Answers one request line.
    func respond(to line: ByteBuffer) async -> ByteBuffer {
        let response: ControlProtocol.Response
        do {
            let request = try JSONDecoder().decode(ControlProtocol.Request.self, from: Data(line.readableBytesView))
            response = try await io.run { [self] in try answer(request) }
        } catch let error as DecodingError {
            response = .init(error: "malformed request: \(error.shortDescription)")
        } catch {
            response = .init(error: "\(error)")
        }
        var data = (try? ControlJSON.encoder().encode(response)) ?? Data(#"{"ok":false,"error":"encoding failed","version":1}"#.utf8)
        data.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: data)
    }

    private func answer(_ request: ControlProtocol.Request) throws -> ControlProtocol.Response {
        guard request.version == ControlProtocol.version else {
            return .init(error: "protocol version \(request.version) not supported (this daemon speaks \(ControlProtocol.version))")
        }
        switch request.command {
        case "status":
            return .init(status: try currentStatus())
        case "sessions":
            let limit = min(max(request.limit ?? 20, 1), 1000)
            let listed = try store.recentSessions(limit: limit)
            let turns = Dictionary(grouping: try store.voiceTurns(sessions: listed.map(\.id)), by: \.sessionID)
            let sessions = listed.map { session in
                ControlProtocol.SessionEntry(
                    id: session.id, startedAt: session.startedAt, endedAt: session.endedAt, state: session.state.rawValue,
                    attempts: session.attempts, detail: session.detail, deliveredAt: session.deliveredAt,
                    turns: (turns[session.id] ?? []).map {
                        ControlProtocol.TurnEntry(
                            id: $0.id, startedAt: $0.startedAt, state: $0.state.rawValue, transcript: $0.transcript,
                            replyText: $0.replyText, detail: $0.lastError)
                    })
            }
            return .init(sessions: sessions)
        case "flush":
            try store.makeAllDue()
            try store.makeAllVoiceTurnsDue()
            outbox.ring()
            turns?.ring()
            return .init(flushed: try store.outboxStatistics().depth)
        default:
            return .init(error: "unknown command \"\(request.command)\" (status, sessions, flush)")
        }
    }

    /// The board, with the outbox and disk figures read now.
    private func currentStatus() throws -> KioskStatus {
        var status = board.snapshot
        let now = Date()
        status.uptimeS = now.timeIntervalSince(status.startedAt)
        status.outbox = KioskStatus.Outbox(try store.outboxStatistics(), now: now)
        status.storage.usedBytes = try store.usage().usedBytes
        status.conversation.waitingTurns = try store.voiceTurnBacklog().waiting
        return status
    }
}

/// Splits the byte stream into lines (without the newline), refusing lines over `limit`.
///
/// Public for the fuzz suite (Tests/FuzzTests), which drives it through an `EmbeddedChannel`.
public struct LineDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer
    /// The longest line without its newline that may be buffered; more throws ``ControlLineTooLong``.
    public let limit: Int

    /// A decoder that refuses lines longer than `limit` bytes.
    public init(limit: Int) {
        self.limit = limit
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex
            let line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            context.fireChannelRead(Self.wrapInboundOut(line))
            return .continue
        }
        if buffer.readableBytes > limit { throw ControlLineTooLong() }
        return .needMoreData
    }
}

/// A request line longer than the protocol allows.
public struct ControlLineTooLong: Error {}

/// Answers a connection's first request line and closes it. The answer is made off the event
/// loop and written back when it is ready; lines after the first are ignored. One per channel.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let respond: @Sendable (ByteBuffer) async -> ByteBuffer
    private var answering = false

    init(respond: @escaping @Sendable (ByteBuffer) async -> ByteBuffer) {
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answering else { return }
        answering = true
        let line = Self.unwrapInboundIn(data)
        let channel = context.channel
        let respond = self.respond
        Task {
            let reply = await respond(line)
            channel.writeAndFlush(reply).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client shut its side: close once the answer is out, or now if none is coming.
        if let event = event as? ChannelEvent, event == .inputClosed, !answering {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is ControlLineTooLong {
            let reply = ByteBuffer(string: #"{"error":"request too long","ok":false,"version":1}"# + "\n")
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }
}

extension DecodingError {
    /// What is wrong, without the coding path noise.
    var shortDescription: String {
        switch self {
        case .dataCorrupted(let context): context.debugDescription
        case .keyNotFound(let key, _): "missing key \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        @unknown default: "\(self)"
        }
    }
}
