import NIOCore

/// One connected peer's protocol state, owned by the session's event loop.
///
/// The parts keep their own books by `key` (requests, offers, blame); this holds the connection and what the
/// session needs to answer the peer's messages.
final class Peer {
    let key: PeerKey
    let channel: any Channel
    let outgoing: Bool
    /// `host:port` we dialled, or the remote address for incoming peers.
    let address: String
    let host: String
    var handshakeReceived = false
    var remoteID: [UInt8] = []

    var amChoking = true
    var amInterested = false
    var peerChoking = true
    var peerInterested = false

    var has: Bitfield
    /// Pieces it has that we lack (decides our interest).
    var interesting = 0
    /// Requests the peer sent us, served in order while the channel is writable.
    var incoming: [BlockRequest] = []
    var incomingHead = 0

    var download = RateMeter()
    var upload = RateMeter()
    /// What the timeout checks look at.
    var activity: PeerTimeouts.Activity
    /// Messages without data this second (keep-alives, state changes, unknown ones).
    var chatter = 0

    init(key: PeerKey, channel: any Channel, outgoing: Bool, address: String, host: String, pieceCount: Int,
         now: NIODeadline) {
        self.key = key
        self.channel = channel
        self.outgoing = outgoing
        self.address = address
        self.host = host
        self.has = Bitfield(count: pieceCount)
        self.activity = PeerTimeouts.Activity(
            connectedAt: now, handshaken: false, lastMessageAt: now, lastSentAt: now, idleSince: now,
            unchokedUnusedSince: nil, starvedSince: nil, requestsStalled: false
        )
    }

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

    /// Recomputes the interest-based timers after any change of choke or interest state.
    func updateActivity(now: NIODeadline) {
        activity.update(
            amChoking: amChoking, amInterested: amInterested, peerChoking: peerChoking,
            peerInterested: peerInterested, now: now)
    }

    func send(_ message: PeerMessage, flush: Bool = true) {
        var buffer = channel.allocator.buffer(capacity: 32)
        message.write(into: &buffer)
        channel.write(buffer, promise: nil)
        if flush { channel.flush() }
    }
}
