import NIOCore

/// Connects one channel's decoded peer wire events to the session.
final class PeerChannelHandler: ChannelInboundHandler {
    typealias InboundIn = PeerWireEvent

    private let session: TorrentSession
    private let outgoing: Bool
    private let address: String
    private var peer: Peer?

    init(session: TorrentSession, outgoing: Bool, address: String) {
        self.session = session
        self.outgoing = outgoing
        self.address = address
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = session.connected(channel: context.channel, outgoing: outgoing, address: address)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let peer else { return }
        session.received(Self.unwrapInboundIn(data), from: peer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let peer { session.readComplete(peer) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let peer, context.channel.isWritable, session.limiter == nil { session.serveRequests(peer) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let peer { session.disconnected(peer) }
        peer = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let peer { session.protocolError(peer, error) }
        context.close(promise: nil)
    }
}
