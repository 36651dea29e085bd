import Hummingbird
import NIOCore
import Synchronization

/// The per-request context of the relay: the request id and, on the device API, the device
/// that authenticated.
public struct RelayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer of the connection (the load balancer, when there is one).
    public let remoteAddress: SocketAddress?
    /// The request id (from `X-Request-Id`, or made).
    public var requestID = ""
    /// The authenticated device.
    public var device: Device? {
        didSet { requestLog.deviceID = device?.id }
    }
    /// What the request log line reports from inner layers (the context itself is copied
    /// down the middleware chain; this is shared).
    let requestLog = RequestLogFields()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Fields an inner middleware fills in for the request's log line.
final class RequestLogFields: Sendable {
    private let device = Mutex<String?>(nil)

    /// The authenticated device's id.
    var deviceID: String? {
        get { device.withLock { $0 } }
        set { device.withLock { $0 = newValue } }
    }
}
