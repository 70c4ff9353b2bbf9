import Hummingbird
import HummingbirdCore
import MemberwiseInit
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTPTypes

/// What one client may hold of an HTTP listener (the boot server, the console): every connection must finish its
/// request head within `headerTimeout` and its request within `requestTimeout`, is closed after `idleTimeout`
/// without a request, and one address holds at most `connectionsPerAddress` connections at a time (more are
/// closed as soon as they are accepted). So a client sending 1,100 half requests cannot take the descriptors
/// nodes need to fetch their boot files.
@PublicMemberwiseInit
public struct ListenerLimits: Sendable {
    public var headerTimeout: Duration = .seconds(10)
    public var requestTimeout: Duration = .seconds(60)
    public var idleTimeout: Duration = .seconds(30)
    public var connectionsPerAddress: Int = 64

    /// The HTTP/1 server with these limits, for `Application(router:server:…)`. Connections are counted per
    /// server built: build it once per listener.
    public func server() -> HTTPServerBuilder {
        let counter = ConnectionCounter(limit: connectionsPerAddress)
        let limits = self
        return .http1(configuration: .init(
            additionalChannelHandlers: [ConnectionGuard(limits: limits, counter: counter)],
            idleTimeout: TimeAmount(idleTimeout)))
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue
            + attoseconds / 1_000_000_000)
    }
}

/// Open connections per remote address, shared by every connection of one listener.
final class ConnectionCounter: Sendable {
    let limit: Int
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot for `address`; false when it already holds `limit`.
    func take(_ address: String) -> Bool {
        counts.withLockedValue { counts in
            let current = counts[address, default: 0]
            guard current < limit else { return false }
            counts[address] = current + 1
            return true
        }
    }

    func release(_ address: String) {
        counts.withLockedValue { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }

    func count(_ address: String) -> Int { counts.withLockedValue { $0[address, default: 0] } }
}

/// Per connection: takes the address's slot (or closes at once), and closes a connection whose request head or
/// whole request takes too long. Sits after the HTTP decoder, so it sees request parts.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let limits: ListenerLimits
    let counter: ConnectionCounter
    private var address: String?
    private var started = false
    private var deadline: Scheduled<Void>?

    init(limits: ListenerLimits, counter: ConnectionCounter) {
        self.limits = limits
        self.counter = counter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, limits.requestTimeout)
        case .body: break
        case .end: disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // A response that has started is the server's to finish; once sent, the next request head must begin
        // within the idle timeout (bytes of a half head are not activity).
        switch unwrapOutboundIn(data) {
        case .head: disarm()
        case .body: break
        case .end: arm(context, limits.idleTimeout)
        }
        context.write(data, promise: promise)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let remote = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard counter.take(remote) else {
            context.close(promise: nil)
            return
        }
        address = remote
        arm(context, limits.headerTimeout)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: Duration) {
        disarm()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.close(promise: nil) }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }

    private func finish() {
        disarm()
        if let address {
            counter.release(address)
            self.address = nil
        }
    }
}
