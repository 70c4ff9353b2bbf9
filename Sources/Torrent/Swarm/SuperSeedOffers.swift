import NIOCore

/// A super-seed's offers to each peer: who holds which offer since when, and whom to offer next (BEP 16).
///
/// Keeps up to `inFlight` offers out across all peers (at most `perPeer` each), each to the peer holding the fewest
/// offers, then the one that got the fewest from us. Few pieces in flight means each leaves the seed fast, at a
/// large share of its upload, and peers pass it on sooner. Pure: the caller passes the clock and the randomness and
/// sends a `have` for each offer returned, in order.
///
/// The `have` that shows a peer our last piece it has not heard of makes us a seed in its eyes. libtorrent (2.0)
/// then closes the connection if it is not interested in us at that moment ("uninteresting upload-only peer"), and
/// it judges interest before that `have` counts: a peer that has fetched every earlier offer leaves, lacking the
/// piece just offered, and does not dial again for a minute. So that `have` never goes alone: it follows, in the
/// same batch, the `have` of a piece the peer lacks, which makes it interested first.
struct SuperSeedOffers {
    /// One peer's offers.
    struct Holder {
        /// Offered pieces the peer does not have yet, with when each was offered or last had a block sent.
        var offered: [Int: NIODeadline] = [:]
        /// Offered pieces this peer then had (from us or others).
        var delivered = 0
        /// Since when it holds no offer, we had none to make it, and it gained no piece from other peers.
        var waitingSince: NIODeadline?
        /// It waited `starveAfter`: other peers do not serve it, so it is offered what they hold, until it gains a
        /// piece from one of them.
        var starving = false
        /// Pieces we sent a `have` for on this connection: the peer's view of what we have.
        var announced: Bitfield
    }

    private(set) var seeder: SuperSeeder
    private(set) var holders: [PeerKey: Holder] = [:]
    let pieceCount: Int
    let perPeer: Int
    let inFlight: Int
    /// How long a peer may sit on an offer without asking for a block of it.
    let timeout: TimeAmount
    /// How long a peer that lacks pieces may wait with no offer before it is offered pieces that other connected
    /// peers hold: super-seeding counts on peers trading, and a peer they do not serve must still finish.
    let starveAfter: TimeAmount

    /// `pieceCount` is at least 2: with one piece its only `have` would show a seed to a peer not yet interested.
    init(pieceCount: Int, perPeer: Int, inFlight: Int, timeout: TimeAmount, starveAfter: TimeAmount = .seconds(5)) {
        precondition(pieceCount >= 2, "super-seeding needs two pieces or more")
        self.seeder = SuperSeeder(pieceCount: pieceCount)
        self.pieceCount = pieceCount
        self.perPeer = perPeer
        self.inFlight = inFlight
        self.timeout = timeout
        self.starveAfter = starveAfter
    }

    /// A seed's offers as `configuration` asks: nil unless super-seeding is on and `have` is complete, and for a
    /// torrent of one piece (its one `have` would show a seed to a peer not yet interested: it gets a bitfield).
    init?(configuration: TorrentConfiguration, have: Bitfield) {
        guard configuration.superSeed, have.isComplete, have.count >= 2 else { return nil }
        self.init(
            pieceCount: have.count, perPeer: configuration.superSeedOffers,
            inFlight: configuration.superSeedInFlight, timeout: .seconds(Int64(configuration.superSeedOfferTimeout)))
    }

    func offered(to peer: PeerKey) -> Set<Int> { holders[peer].map { Set($0.offered.keys) } ?? [] }

    /// The peer finished its handshake and may get offers.
    mutating func join(_ peer: PeerKey) {
        holders[peer] = holders[peer] ?? Holder(announced: Bitfield(count: pieceCount))
    }

    /// The peer left: its pending offers are free again.
    mutating func leave(_ peer: PeerKey) {
        if let holder = holders.removeValue(forKey: peer) { seeder.withdrawn(holder.offered.keys) }
    }

    /// The peer now has `index` (a `have`); returns whether that ended an offer to it.
    mutating func peerHas(_ peer: PeerKey, _ index: Int) -> Bool {
        guard holders[peer]?.offered.removeValue(forKey: index) != nil else {
            // A piece from another peer: it is being served, so it is not starving and its wait starts again.
            holders[peer]?.waitingSince = nil
            holders[peer]?.starving = false
            return false
        }
        seeder.delivered(index)
        holders[peer]?.delivered += 1
        return true
    }

    /// The peer showed its whole set: offers of pieces it already had were not sends, so others get them.
    mutating func peerBitfield(_ peer: PeerKey, _ bits: Bitfield) {
        let had = holders[peer]?.offered.keys.filter { bits.contains($0) } ?? []
        for index in had { holders[peer]?.offered[index] = nil }
        seeder.withdrawn(had)
    }

    /// A block of an offered piece went out: the peer is using the offer, not sitting on it.
    mutating func served(_ peer: PeerKey, piece index: Int, now: NIODeadline) {
        if holders[peer]?.offered[index] != nil { holders[peer]?.offered[index] = now }
    }

    /// Frees offers held past `timeout`; returns whether any were.
    mutating func expire(now: NIODeadline) -> Bool {
        var expired = false
        for (peer, holder) in holders {
            let stale = holder.offered.filter { now - $0.value > timeout }.map(\.key)
            guard !stale.isEmpty else { continue }
            for index in stale { holders[peer]?.offered[index] = nil }
            seeder.withdrawn(stale)
            expired = true
        }
        return expired
    }

    /// New offers to make now, as (peer, piece), to announce in this order; `has` gives each joined peer's pieces.
    /// When an offer leaves a peer one piece it has not heard of, that piece follows at once (an offer too if the
    /// peer lacks it), even past `perPeer` and `inFlight`: see the type's note on the last `have`.
    mutating func next(
        has: (PeerKey) -> Bitfield,
        availability: [Int],
        now: NIODeadline,
        using generator: inout some RandomNumberGenerator
    ) -> [(peer: PeerKey, piece: Int)] {
        var out = holders.values.reduce(0) { $0 + $1.offered.count }
        var skipped: Set<PeerKey> = []
        var made: [(peer: PeerKey, piece: Int)] = []
        while out < inFlight {
            let eligible = holders.filter { $0.value.offered.count < perPeer && !skipped.contains($0.key) }
            guard
                let peer = eligible.min(by: {
                    ($0.value.offered.count, $0.value.delivered, $0.key)
                        < ($1.value.offered.count, $1.value.delivered, $1.key)
                })?.key
            else { break }
            let held = offered(to: peer)
            if held.isEmpty, holders[peer]?.waitingSince.map({ now - $0 >= starveAfter }) == true {
                holders[peer]?.starving = true
            }
            let starving = holders[peer]?.starving == true
            guard
                let index = seeder.next(
                    peerHas: has(peer), held: held, availability: availability, starving: starving, using: &generator)
            else {
                if held.isEmpty, holders[peer]?.waitingSince == nil { holders[peer]?.waitingSince = now }
                skipped.insert(peer)
                continue
            }
            holders[peer]?.offered[index] = now
            _ = holders[peer]?.announced.insert(index)
            made.append((peer, index))
            out += 1
            if let last = lastUnannounced(to: peer) {
                _ = holders[peer]?.announced.insert(last)
                made.append((peer, last))
                if !has(peer).contains(last) {
                    seeder.offered(last)
                    holders[peer]?.offered[last] = now
                    out += 1
                }
            }
        }
        return made
    }

    /// The one piece the peer has not heard of from us, when exactly one is left.
    private func lastUnannounced(to peer: PeerKey) -> Int? {
        guard let announced = holders[peer]?.announced, announced.setCount == pieceCount - 1 else { return nil }
        return (0..<pieceCount).first { !announced.contains($0) }
    }
}
