import NIOCore

/// One connected peer's protocol state, owned by the session's event loop.
final class Peer {
    let channel: any Channel
    let outgoing: Bool
    /// `host:port` we dialled, or the remote address for incoming peers.
    let address: String
    let host: String
    var handshakeReceived = false
    var remoteID: [UInt8] = []
    var supportsFast = false
    var messagesSinceHandshake = 0

    var amChoking = true
    var amInterested = false
    var peerChoking = true
    var peerInterested = false

    var has: Bitfield
    /// Requests we sent and are waiting for.
    var outstanding: Set<BlockRequest> = []
    /// Pieces a super-seed offered this peer (a `have`) that it does not have yet.
    var offered: Set<Int> = []
    /// Offered pieces this peer then had (from us or others).
    var deliveredOffers = 0
    /// When each piece in `offered` was offered, or last had a block sent.
    var offeredAt: [Int: NIODeadline] = [:]

    /// Drops the bookkeeping of offers that ended.
    func forgetOffers(_ pieces: some Sequence<Int>) {
        for index in pieces { offeredAt[index] = nil }
    }

    /// When each outstanding request was sent.
    var requestedAt: [BlockRequest: NIODeadline] = [:]
    /// Requests the peer sent us, served in order while the channel is writable.
    var incoming: [BlockRequest] = []
    var incomingHead = 0
    var queueDepth: Int

    var download = RateMeter()
    var upload = RateMeter()
    var lastBlockAt: NIODeadline = .now()
    var lastMessageAt: NIODeadline = .now()
    var connectedAt: NIODeadline = .now()

    init(channel: any Channel, outgoing: Bool, address: String, host: String, pieceCount: Int, queueDepth: Int) {
        self.channel = channel
        self.outgoing = outgoing
        self.address = address
        self.host = host
        self.has = Bitfield(count: pieceCount)
        self.queueDepth = queueDepth
    }

    var id: ObjectIdentifier { ObjectIdentifier(self) }

    var pendingIncoming: Int { incoming.count - incomingHead }

    func popIncoming() -> BlockRequest? {
        guard incomingHead < incoming.count else { return nil }
        let next = incoming[incomingHead]
        incomingHead += 1
        if incomingHead > 256, incomingHead * 2 > incoming.count {
            incoming.removeFirst(incomingHead)
            incomingHead = 0
        }
        return next
    }

    func send(_ message: PeerMessage, flush: Bool = true) {
        var buffer = channel.allocator.buffer(capacity: 32)
        message.write(into: &buffer)
        channel.write(buffer, promise: nil)
        if flush { channel.flush() }
    }
}
