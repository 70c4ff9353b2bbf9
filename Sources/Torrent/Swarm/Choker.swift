/// Tit-for-tat choking: regular slots go to the best-rated interested peers, one more slot rotates optimistically.
///
/// Peers behind the others get slots: the optimistic slot goes to the peer with the fewest pieces among the
/// interested ones outside the regular slots (ties at random), and between rounds `admitBehind` gives a peer that
/// arrives behind every served peer one more slot, which each round renews while it holds fewer pieces than every
/// peer in the regular slots (at most `behindSlots` such). A peer back from a crash, or a late one, uploads to
/// every peer a little, so it ranks low in the regular slots, and found every slot taken until the others finished.
/// While the rack rule is on, rack peers rank first (`Choker+Rack.swift`).
///
/// Pure: the session passes the peers and the randomness, and applies the returned unchoke set.
struct Choker {
    /// One peer as the choker sees it.
    struct Candidate {
        var id: PeerKey
        var interested: Bool
        /// Whether we choke it now.
        var choked = true
        /// Download rate from the peer while leeching; upload rate to it while seeding.
        var rate: Double
        /// Pieces the peer has (its bitfield and `have`s).
        var pieces = 0
        /// In our rack while the rack rule is on (`SwarmDriver.rackPreferred`): ranked ahead of the others.
        var sameRack = false
    }

    /// Regular (rate-ranked) unchoke slots.
    var regularSlots: Int
    /// The current optimistic unchoke.
    private(set) var optimistic: PeerKey?

    init(regularSlots: Int) {
        self.regularSlots = regularSlots
    }

    /// Returns the set of peers to unchoke; rotates the optimistic slot when `rotateOptimistic` is set.
    mutating func round(
        _ candidates: [Candidate],
        rotateOptimistic: Bool,
        using generator: inout some RandomNumberGenerator
    ) -> Set<PeerKey> {
        let interested = candidates.filter(\.interested)
        let ranked = Self.rackFirst(interested.sorted { $0.rate > $1.rate })
        var unchoked = Set(ranked.prefix(regularSlots).map(\.id))
        let others = interested.filter { !unchoked.contains($0.id) }
        if rotateOptimistic || optimistic.map({ id in !others.contains { $0.id == id } }) ?? true {
            let fewest = others.map(\.pieces).min()
            optimistic = others.filter { $0.pieces == fewest }.randomElement(using: &generator)?.id
        }
        if let optimistic { unchoked.insert(optimistic) }
        // Peers still behind every regular one keep up to `behindSlots` more slots, fewest pieces first.
        let regularFewest = ranked.prefix(regularSlots).map(\.pieces).min() ?? 0
        let stillBehind = others.filter { $0.id != optimistic && $0.pieces < regularFewest }
        behind = Set(stillBehind.sorted { $0.pieces < $1.pieces }.prefix(Self.behindSlots).map(\.id))
        return unchoked.union(behind)
    }

    /// Handshaken interested peers we unchoke (they hold the slots `fill` keeps full).
    private(set) var serving: Set<PeerKey> = []
    /// Handshaken interested peers we choke (those `fill` may unchoke).
    private(set) var waiting: Set<PeerKey> = []

    /// Takes a peer's state after any change of handshake, interest or choking, so that `fill` costs nothing
    /// while every slot is taken (it ran on every interest message, over every peer).
    mutating func update(_ id: PeerKey, handshaken: Bool, interested: Bool, choked: Bool) {
        let counted = handshaken && interested
        if counted, !choked { serving.insert(id) } else { serving.remove(id) }
        if counted, choked { waiting.insert(id) } else { waiting.remove(id) }
        if !counted || choked { behind.remove(id) }
    }

    /// Peers that hold a slot beyond `regularSlots + 1` because they are behind (`admitBehind`, and each round).
    private(set) var behind: Set<PeerKey> = []
    /// At most this many such slots at a time: the upload is then split 19 ways instead of 17 at worst.
    static let behindSlots = 2

    /// Whether a peer that became interested while every slot is taken gets one more slot until the next round:
    /// it has fewer pieces than every peer we serve in the usual slots (`piecesOf`: a served peer's pieces, looked
    /// up only once every slot is known to be taken). Between rounds the slots stay with the peers that asked first
    /// (`fill`); with rounds every 10 s (before `TorrentConfiguration.chokeInterval` became 1 s) a peer back from
    /// a crash, or a late one, found them all taken at every peer and downloaded a fifth to a third of its link
    /// until the others finished. At the start (every peer at 0 pieces) nobody gets one.
    mutating func admitBehind(_ id: PeerKey, pieces: Int, piecesOf: (PeerKey) -> Int?) -> Bool {
        guard behind.count < Self.behindSlots, serving.count >= regularSlots + 1 else { return false }
        guard serving.allSatisfy({ behind.contains($0) || piecesOf($0).map { pieces < $0 } ?? true }) else {
            return false
        }
        behind.insert(id)
        return true
    }

    /// Forgets a peer that left.
    mutating func forget(_ id: PeerKey) {
        behind.remove(id)
        serving.remove(id)
        waiting.remove(id)
    }

    /// Peers to unchoke between rounds so that `regularSlots + 1` interested peers are unchoked: a slot freed by a
    /// peer that finished or left goes to a waiting peer at once, not at the next round (which left the last node of
    /// a 32-node lab run idle for 10 s). Waiting peers are taken in connection order, rack peers first when the
    /// driver asks for it (`rackFirst`, while the rack rule is on; `inRack` says which they are).
    func fill(rackFirst: Bool = false, inRack: (PeerKey) -> Bool = { _ in false }) -> [PeerKey] {
        let open = regularSlots + 1 - serving.count
        guard open > 0, !waiting.isEmpty else { return [] }
        let inOrder = waiting.sorted()
        guard rackFirst else { return Array(inOrder.prefix(open)) }
        return Array((inOrder.filter(inRack) + inOrder.filter { !inRack($0) }).prefix(open))
    }
}
