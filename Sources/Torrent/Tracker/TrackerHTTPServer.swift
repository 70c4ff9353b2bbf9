import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A thread-safe holder of a `Tracker`, with the wall clock; what transports call into.
public final class TrackerService: Sendable {
    private let state: NIOLockedValueBox<Tracker>

    /// Wraps a tracker.
    public init(tracker: Tracker) {
        self.state = NIOLockedValueBox(tracker)
    }

    /// Places hosts in racks from now on (a new commit moved or added nodes), and keeps traffic in racks or not
    /// (`TrackerConfiguration.keepInRack`); peers already known keep their rack until they announce again.
    public func updateRacks(_ racksByHost: [String: String], keepInRack: Bool) {
        state.withLockedValue {
            var configuration = $0.configuration
            configuration.racksByHost = racksByHost
            configuration.keepInRack = keepInRack
            $0.configuration = configuration
        }
    }

    /// Tracks only `infoHashes` from now on (the images a new commit seeds); peers of others are forgotten.
    public func allow(_ infoHashes: Set<[UInt8]>) {
        state.withLockedValue { $0.allow(infoHashes) }
    }

    /// Answers one HTTP request URI.
    public func handle(uri: String, remoteHost: String) -> (status: Int, body: [UInt8]) {
        let now = Double(NIODeadline.now().uptimeNanoseconds) / 1e9
        var generator = SystemRandomNumberGenerator()
        return state.withLockedValue { $0.handle(uri: uri, remoteHost: remoteHost, now: now, using: &generator) }
    }
}

/// A thin HTTP/1.1 adapter that serves a `TrackerService` with SwiftNIO.
public enum TrackerHTTPServer {
    /// Binds `host:port` and serves `/announce` and `/scrape`; returns the server channel.
    public static func start(
        service: TrackerService,
        host: String,
        port: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> Running {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(service: service))
                }
            }
            .bind(host: host, port: port).get()
        logger.info("tracker listening", metadata: ["tracker.port": "\(channel.localAddress?.port ?? 0)"])
        return Running(channel: channel)
    }

    /// A listening tracker.
    public struct Running: Sendable {
        let channel: any Channel

        /// The bound port.
        public var port: Int { channel.localAddress?.port ?? 0 }

        /// Stops accepting announces.
        public func stop() async {
            try? await channel.close()
        }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let service: TrackerService
        var uri: String?
        var keepAlive = false

        init(service: TrackerService) { self.service = service }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch Self.unwrapInboundIn(data) {
            case .head(let head):
                uri = head.uri
                keepAlive = head.isKeepAlive
            case .body:
                break
            case .end:
                let host = context.remoteAddress?.ipAddress ?? "0.0.0.0"
                let (status, body) = service.handle(uri: uri ?? "/", remoteHost: host)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/plain")
                headers.add(name: "Content-Length", value: "\(body.count)")
                if !keepAlive { headers.add(name: "Connection", value: "close") }
                let head = HTTPResponseHead(
                    version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers
                )
                context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                let keepAlive = self.keepAlive
                let channel = context.channel
                context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                    if !keepAlive { channel.close(promise: nil) }
                }
            }
        }
    }
}
