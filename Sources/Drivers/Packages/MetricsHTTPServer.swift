import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 endpoint for `GET /metrics` (the agent's), with the bounds of every rackswarm listener: a
/// connection idle or half-sent for `idleTimeout` is closed, and request bodies are not read.
public struct MetricsHTTPServer: Sendable {
    public let host: String
    public let port: Int
    public let idleTimeout: TimeAmount
    let render: @Sendable () async -> String
    let logger: Logger

    /// A server on `host:port` (0: any free port) answering `/metrics` with `render()`.
    public init(host: String, port: Int, idleTimeout: TimeAmount = .seconds(10), logger: Logger,
                render: @escaping @Sendable () async -> String) {
        self.host = host
        self.port = port
        self.idleTimeout = idleTimeout
        self.render = render
        self.logger = logger
    }

    /// Binds, reports the bound port through `onBound`, and serves until the task is cancelled.
    public func run(onBound: @Sendable (Int) -> Void = { _ in }) async throws {
        let (render, idleTimeout) = (render, idleTimeout)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idleTimeout), CloseOnIdleHandler(),
                    ])
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(render: render))
                }
            }
            .bind(host: host, port: port).get()
        let bound = channel.localAddress?.port ?? port
        logger.info("metrics listening", metadata: ["metrics.address": "\(host):\(bound)"])
        onBound(bound)
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let render: @Sendable () async -> String
        var head: HTTPRequestHead?

        init(render: @escaping @Sendable () async -> String) { self.render = render }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch Self.unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                let keepAlive = head.isKeepAlive
                let wanted = head.method == .GET && head.uri.split(separator: "?").first == "/metrics"
                let render = render
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.eventLoop.makeFutureWithTask { wanted ? await render() : "not found\n" }.whenSuccess { text in
                    Self.respond(loopBound.value, status: wanted ? .ok : .notFound, text: text, keepAlive: keepAlive)
                }
            }
        }

        static func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, text: String,
                            keepAlive: Bool) {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(text.utf8.count)")
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status,
                                                                 headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }
}
