/// Tit-for-tat choking: regular slots go to the best-rated interested peers, one more slot rotates optimistically.
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
        let ranked = interested.sorted { $0.rate > $1.rate }
        var unchoked = Set(ranked.prefix(regularSlots).map(\.id))
        let others = interested.filter { !unchoked.contains($0.id) }
        if rotateOptimistic || optimistic.map({ id in !others.contains { $0.id == id } }) ?? true {
            optimistic = others.randomElement(using: &generator)?.id
        }
        if let optimistic { unchoked.insert(optimistic) }
        return unchoked
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
    }

    /// Forgets a peer that left.
    mutating func forget(_ id: PeerKey) {
        serving.remove(id)
        waiting.remove(id)
    }

    /// Peers to unchoke between rounds so that `regularSlots + 1` interested peers are unchoked: a slot freed by a
    /// peer that finished or left goes to a waiting peer at once, not at the next round (which left the last node of
    /// a 32-node lab run idle for 10 s). Waiting peers are taken in connection order.
    func fill() -> [PeerKey] {
        let open = regularSlots + 1 - serving.count
        guard open > 0, !waiting.isEmpty else { return [] }
        return Array(waiting.sorted().prefix(open))
    }
}
