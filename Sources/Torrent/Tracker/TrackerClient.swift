import NIOCore
import NIOPosix

/// Announces to an HTTP tracker with a minimal HTTP/1.0 GET over SwiftNIO.
enum TrackerClient {
    /// Sends `request` to the tracker at `url` (`http://host:port/path`), from `source` when given: the tracker
    /// lists a peer at the address its announce came from.
    static func announce(
        url: String,
        request: AnnounceRequest,
        from source: SocketAddress? = nil,
        on loop: any EventLoop
    ) -> EventLoopFuture<AnnounceResponse> {
        guard let target = HTTPURL(url) else {
            return loop.makeFailedFuture(TorrentError(.tracker, "unsupported tracker URL \(url)"))
        }
        let separator = target.path.contains("?") ? "&" : "?"
        let path = target.path + separator + request.query
        return HTTPGet.fetch(host: target.host, port: target.port, path: path, from: source, on: loop).flatMapThrowing { body in
            try AnnounceResponse(bencoded: body)
        }
    }
}

/// The parts of an `http://` URL.
struct HTTPURL {
    var host: String
    var port: Int
    var path: String

    init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        path = String(rest.dropFirst(authority.count))
        if path.isEmpty { path = "/" }
        if let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = 80
        }
    }
}

/// A one-shot HTTP/1.0 GET that collects the body until the server closes.
enum HTTPGet {
    /// Fetches `path`; with `range`, asks for those bytes and accepts only `206 Partial Content`. With `source`,
    /// the connection leaves from that local address.
    static func fetch(
        host: String,
        port: Int,
        path: String,
        range: ClosedRange<Int64>? = nil,
        maxBytes: Int = 4 << 20,
        from source: SocketAddress? = nil,
        on loop: any EventLoop
    ) -> EventLoopFuture<[UInt8]> {
        let promise = loop.makePromise(of: [UInt8].self)
        let rangeHeader = range.map { "Range: bytes=\($0.lowerBound)-\($0.upperBound)\r\n" } ?? ""
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .bound(to: source)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Collector(promise: promise, maxBytes: maxBytes + 16 << 10, expectPartial: range != nil)
                    )
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    var buffer = channel.allocator.buffer(capacity: path.utf8.count + 64)
                    buffer.writeString(
                        "GET \(path) HTTP/1.0\r\nHost: \(host):\(port)\r\n\(rangeHeader)Connection: close\r\n\r\n"
                    )
                    channel.writeAndFlush(buffer, promise: nil)
                    channel.eventLoop.scheduleTask(in: .seconds(60)) { channel.close(promise: nil) }
                case .failure(let error):
                    promise.fail(error)
                }
            }
        return promise.futureResult
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<[UInt8]>
        let maxBytes: Int
        let expectPartial: Bool
        var received: [UInt8] = []

        init(promise: EventLoopPromise<[UInt8]>, maxBytes: Int, expectPartial: Bool) {
            self.promise = promise
            self.maxBytes = maxBytes
            self.expectPartial = expectPartial
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = Self.unwrapInboundIn(data)
            received.append(contentsOf: buffer.readableBytesView)
            if received.count > maxBytes { context.close(promise: nil) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            let marker: [UInt8] = [13, 10, 13, 10]
            guard let split = received.firstRange(of: marker),
                received.starts(with: Array("HTTP/1.".utf8)), received.count > 12,
                received[9] == UInt8(ascii: "2"), !expectPartial || received[9...11].elementsEqual("206".utf8)
            else {
                promise.fail(TorrentError(.tracker, "bad HTTP response"))
                return
            }
            promise.succeed(Array(received[split.upperBound...]))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}

extension ClientBootstrap {
    /// The bootstrap with its connections leaving from `source`, if one is given (port 0: any free port).
    func bound(to source: SocketAddress?) -> ClientBootstrap {
        source.map { bind(to: $0) } ?? self
    }
}
