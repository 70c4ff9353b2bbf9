import NIOCore

/// The one UDP handler of the IPMI client and the simulated BMCs: hands each datagram's bytes and sender to
/// `receive`, and sends what it returns, if anything, back to that sender.
final class DatagramHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let receive: @Sendable (_ bytes: [UInt8], _ from: SocketAddress) -> [UInt8]?

    init(_ receive: @escaping @Sendable (_ bytes: [UInt8], _ from: SocketAddress) -> [UInt8]?) {
        self.receive = receive
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var buffer = envelope.data
        guard let bytes = buffer.readBytes(length: buffer.readableBytes),
              let answer = receive(bytes, envelope.remoteAddress) else { return }
        let out = context.channel.allocator.buffer(bytes: answer)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: out)),
                              promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and similar surface here on a connection-less socket; sessions time out instead.
    }
}
