import NIOCore

/// What the peer wire decoder hands up the pipeline.
public enum PeerWireEvent: Sendable, Equatable {
    case handshake(Handshake)
    case message(PeerMessage)
}

/// SwiftNIO adapter around `PeerWireParser`.
public struct PeerWireDecoder: ByteToMessageDecoder {
    public typealias InboundOut = PeerWireEvent

    private var parser: PeerWireParser

    /// Creates a decoder; the first frame must be a handshake.
    public init(maxMessageLength: Int = (128 << 10) + 13) {
        self.parser = PeerWireParser(expectHandshake: true, maxMessageLength: maxMessageLength)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch try parser.parse(&buffer) {
        case .needMoreData:
            return .needMoreData
        case .handshake(let handshake):
            context.fireChannelRead(Self.wrapInboundOut(.handshake(handshake)))
            return .continue
        case .message(let message):
            context.fireChannelRead(Self.wrapInboundOut(.message(message)))
            return .continue
        }
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
