import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Serves the service protocol over TCP: one parser per connection, answers written in request order.
///
/// A connection may carry many requests. A framing error is answered `garbled` and closes the connection
/// (the frame boundary is lost); a bad frame whose end was found is answered and the connection goes on.
public struct ServiceAgentServer: Sendable {
    public let address: AgentAddress
    public let maximumFrameLength: Int
    /// A connection that sends nothing for this long is closed (a half-sent frame cannot hold it open).
    public let idleTimeout: TimeAmount
    let handler: @Sendable (Result<ServiceMessage, ServiceMessageError>) async -> ServiceMessage
    let logger: Logger

    /// A server that answers with `handler` (e.g. `ProvisioningAgent.answer`).
    public init(
        address: AgentAddress, maximumFrameLength: Int = ServiceMessageParser.defaultMaximumFrameLength,
        idleTimeout: TimeAmount = .seconds(60), logger: Logger,
        handler: @escaping @Sendable (Result<ServiceMessage, ServiceMessageError>) async -> ServiceMessage
    ) {
        self.address = address
        self.maximumFrameLength = maximumFrameLength
        self.idleTimeout = idleTimeout
        self.handler = handler
        self.logger = logger
    }

    /// A server in front of an agent.
    public init(
        address: AgentAddress, agent: ProvisioningAgent, idleTimeout: TimeAmount = .seconds(60), logger: Logger
    ) {
        self.init(address: address, idleTimeout: idleTimeout, logger: logger) { await agent.answer($0) }
    }

    /// Binds, reports the bound port through `onBound`, and serves until the task is cancelled.
    ///
    /// Cancellation never reaches the sequence of accepted connections: cancelling it would drop connections it
    /// holds but has not handed out yet, and NIO traps on an async channel dropped unfinished. Cancelling closes
    /// the listener and every open connection instead, so the accept loop drains, each connection ends, and `run`
    /// returns.
    public func run(onBound: @Sendable (Int) -> Void = { _ in }) async throws {
        let idleTimeout = idleTimeout
        let open = OpenConnections()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idleTimeout), CloseOnIdleHandler(),
                    ])
                    open.admit(channel)
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? address.port
        logger.info("agent listening", metadata: ["agent.address": "\(address.host):\(port)"])
        onBound(port)
        let accepting = Task {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await serve(connection) }
                    }
                }
            }
        }
        try await withTaskCancellationHandler {
            try await accepting.value
        } onCancel: {
            server.channel.close(promise: nil)
            open.closeAll()
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress?.description ?? "?"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var parser = ServiceMessageParser(maximumFrameLength: maximumFrameLength)
                for try await buffer in inbound {
                    parser.append(buffer.readableBytesView)
                    parse: while true {
                        switch parser.next() {
                        case .needMoreData:
                            break parse
                        case .message(let message):
                            let answer = await handler(.success(message))
                            try await outbound.write(ByteBuffer(bytes: answer.encoded + [10]))
                        case .error(let error):
                            let answer = await handler(.failure(error))
                            try await outbound.write(ByteBuffer(bytes: answer.encoded + [10]))
                            if !error.isRecoverable { return }
                        }
                    }
                }
            }
        } catch {
            logger.info("connection ended", metadata: ["agent.peer": "\(peer)", "error.detail": "\(error)"])
        }
    }
}

/// The connections a server has accepted and not yet closed, so that stopping the server can close them all.
///
/// A connection accepted after `closeAll` is closed at once.
final class OpenConnections: Sendable {
    private let state = NIOLockedValueBox((stopping: false, channels: [ObjectIdentifier: any Channel]()))

    func admit(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLockedValue { state -> Bool in
            if state.stopping { return false }
            state.channels[id] = channel
            return true
        }
        // Closed once the channel initializer has wrapped it, so that the close reaches its async handlers.
        guard admitted else { return channel.eventLoop.execute { channel.close(promise: nil) } }
        channel.closeFuture.whenComplete { [state] _ in
            state.withLockedValue { _ = $0.channels.removeValue(forKey: id) }
        }
    }

    func closeAll() {
        let channels = state.withLockedValue { state in
            state.stopping = true
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}

/// Closes a connection when `IdleStateHandler` reports that nothing was read for a while.
final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
