import NIOCore

/// A message between simulated nodes: the peer wire's, with block data reduced to the request it answers.
enum SimulatedMessage {
    case handshake
    case choke, unchoke, interested, notInterested
    case have(Int)
    case bitfield(Bitfield)
    case request(BlockRequest)
    case cancel(BlockRequest)
    case block(BlockRequest)
    /// The connection closed (the other side dropped it, or its process died).
    case closed
}

/// One connection as a simulated node sees it: `Peer` without a channel.
final class SimulatedPeer {
    let key: PeerKey
    /// The node at the other end.
    let remote: Int
    /// The other end's key for this connection.
    var remoteKey: PeerKey
    let outgoing: Bool
    var handshakeReceived = false
    var amChoking = true
    var amInterested = false
    var peerChoking = true
    var peerInterested = false
    var has: Bitfield
    /// Pieces it has that we lack (decides our interest).
    var interesting = 0
    /// Requests it sent us, served in order; `headSent` bytes of the first are on their way.
    var incoming: [BlockRequest] = []
    var incomingHead = 0
    var headSent = 0.0
    var download = RateMeter()
    var upload = RateMeter()
    var activity: PeerTimeouts.Activity

    init(key: PeerKey, remote: Int, remoteKey: PeerKey, outgoing: Bool, pieceCount: Int, now: NIODeadline) {
        self.key = key
        self.remote = remote
        self.remoteKey = remoteKey
        self.outgoing = outgoing
        has = Bitfield(count: pieceCount)
        activity = PeerTimeouts.Activity(
            connectedAt: now, handshaken: false, lastMessageAt: now, lastSentAt: now, idleSince: now,
            unchokedUnusedSince: nil, starvedSince: nil, requestsStalled: false)
    }

    var pendingIncoming: Int { incoming.count - incomingHead }

    var nextIncoming: BlockRequest? { incomingHead < incoming.count ? incoming[incomingHead] : nil }

    func popIncoming() {
        incomingHead += 1
        headSent = 0
        if incomingHead > 256, incomingHead * 2 > incoming.count {
            incoming.removeFirst(incomingHead)
            incomingHead = 0
        }
    }

    func clearIncoming() {
        incoming.removeAll()
        incomingHead = 0
        headSent = 0
    }

    func updateActivity(now: NIODeadline) {
        activity.update(
            amChoking: amChoking, amInterested: amInterested, peerChoking: peerChoking,
            peerInterested: peerInterested, now: now)
    }
}
