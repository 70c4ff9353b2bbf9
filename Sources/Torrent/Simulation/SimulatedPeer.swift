import NIOCore

/// A message between simulated nodes: the peer wire's, with block data reduced to the request it answers.
enum SimulatedMessage {
    case handshake
    case choke, unchoke, interested, notInterested
    case have(Int)
    /// Boxed (sent once a connection): unboxed, its 24 bytes made every message 24 bytes and every queued one 32 with
    /// its connection, boxed 13 and 24 (the `have`s are most of a run's messages).
    indirect case bitfield(Bitfield)
    case request(BlockRequest)
    case cancel(BlockRequest)
    case block(BlockRequest)
    /// The connection closed (the other side dropped it, or its process died).
    case closed
}

/// One connection as a simulated node sees it: `Peer` without a channel.
final class SimulatedPeer: PeerState {
    /// The node this connection belongs to: read only while `isOpen` (a dead node's connections are all closed),
    /// so unchecked, as `SimulatedNode.world` is.
    unowned(unsafe) let owner: SimulatedNode
    /// The node at the other end.
    let remote: Int
    /// The other end's object for this connection (messages go straight to it); nil once this end closed.
    /// (`isOpen` turns false once the connection closed, either side, or the node died.)
    var counterpart: SimulatedPeer? { didSet { owner.linkChanged(self) } }
    /// Whether the simulator lists it among the flows.
    var inFlow = false
    /// The last batch of messages that reached it (`SwarmSimulator.batchStamp`).
    var batchStamp: UInt64 = 0
    /// Whether part of the first request in `incoming` is on its way (the bytes sent are the flow's:
    /// `SwarmSimulator.Flow`).
    var headStarted = false
    /// When its queue of requests last went from empty to one (`SwarmSimulator.flowReady`): its flow cannot send
    /// before then.
    var readySince = 0.0

    init(owner: SimulatedNode, key: PeerKey, remote: Int, counterpart: SimulatedPeer?, outgoing: Bool,
         address: String, pieceCount: Int, now: NIODeadline) {
        self.owner = owner
        self.remote = remote
        self.counterpart = counterpart
        super.init(
            key: key, outgoing: outgoing, address: address, host: SwarmSimulator.host(remote), pieceCount: pieceCount,
            now: now)
    }

    var nextIncoming: BlockRequest? { incomingHead < incoming.count ? incoming[incomingHead] : nil }

    func popIncoming() {
        incomingHead += 1
        headStarted = false
        if incomingHead > 256, incomingHead * 2 > incoming.count {
            incoming.removeFirst(incomingHead)
            incomingHead = 0
        }
    }

    /// Choked: its requests go, and its flow (if any) must be looked at.
    override func clearIncoming() {
        super.clearIncoming()
        headStarted = false
        if inFlow { owner.world.flowNotice(self) }
    }
}
