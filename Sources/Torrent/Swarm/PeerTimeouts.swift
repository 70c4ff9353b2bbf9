import NIOCore

/// When a connection has stopped earning its slot: the per-second checks, the eviction of idle peers for a
/// newcomer, and the flood limit on messages that carry no data.
///
/// Pure: the caller passes the clock and what it knows of the peer, and acts on the verdict.
struct PeerTimeouts {
    /// What the checks look at for one peer.
    struct Activity: Equatable {
        var connectedAt: NIODeadline
        var handshaken: Bool
        /// The last message other than a keep-alive.
        var lastMessageAt: NIODeadline
        /// The last keep-alive we sent (or the connection's start).
        var lastSentAt: NIODeadline
        /// Since when neither side is interested (or since the handshake, for a peer that said nothing yet).
        var idleSince: NIODeadline?
        /// Since when we unchoke it while it is interested and asks for nothing.
        var unchokedUnusedSince: NIODeadline?
        /// Since when it chokes us while we want its pieces and it wants none of ours.
        var starvedSince: NIODeadline?
        /// Requests to it went unanswered past the request timeout.
        var requestsStalled: Bool

        /// Recomputes the interest-based timers after any change of choke or interest state.
        mutating func update(
            amChoking: Bool, amInterested: Bool, peerChoking: Bool, peerInterested: Bool, now: NIODeadline
        ) {
            let idle = !amInterested && !peerInterested
            idleSince = idle ? idleSince ?? now : nil
            let unused = !amChoking && peerInterested
            unchokedUnusedSince = unused ? unchokedUnusedSince ?? now : nil
            let starved = amInterested && peerChoking && !peerInterested
            starvedSince = starved ? starvedSince ?? now : nil
        }
    }

    /// What to do about a peer.
    enum Verdict: Equatable {
        case keep
        case sendKeepAlive
        /// It asks for nothing: give its upload slot to a peer that does.
        case choke
        case drop(String)
    }

    var handshake: TimeAmount = .seconds(10)
    /// Neither side interested, or unchoked and unused, this long: the slot goes to someone else.
    var idle: TimeAmount = .seconds(30)
    /// It chokes us while wanting nothing from us this long.
    var starved: TimeAmount = .seconds(60)
    /// Nothing but keep-alives this long.
    var silence: TimeAmount = .seconds(90)
    /// An idle peer this long may be closed to let a new one in when the connections are full.
    var evictAfter: TimeAmount = .seconds(5)
    var keepAliveEvery: TimeAmount = .seconds(60)
    /// Messages that carry no data (keep-alives, state changes, unknown ones) one peer may send per second.
    var maxChatterPerSecond = 64

    /// The check of one peer at `now`.
    func verdict(_ peer: Activity, now: NIODeadline) -> Verdict {
        if !peer.handshaken { return now - peer.connectedAt > handshake ? .drop("no handshake") : .keep }
        if peer.requestsStalled { return .drop("requests timed out") }
        if let since = peer.idleSince, now - since > idle { return .drop("neither side interested") }
        if let since = peer.starvedSince, now - since > starved { return .drop("choked us and wants nothing") }
        if now - peer.lastMessageAt > silence { return .drop("silent") }
        if let since = peer.unchokedUnusedSince, now - since > idle { return .choke }
        return now - peer.lastSentAt > keepAliveEvery ? .sendKeepAlive : .keep
    }

    /// The peer to close so that a newcomer fits: the one idle longest, if for at least `evictAfter`.
    func evictionCandidate(_ peers: [(key: PeerKey, activity: Activity)], now: NIODeadline) -> PeerKey? {
        let idle = peers.compactMap { peer in
            peer.activity.idleSince.flatMap { now - $0 >= evictAfter ? (peer.key, $0) : nil }
        }
        return idle.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// Whether `count` data-less messages within one second is a flood.
    func isFlooding(chatter count: Int) -> Bool { count > maxChatterPerSecond }
}
