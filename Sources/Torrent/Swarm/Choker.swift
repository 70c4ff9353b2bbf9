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

    /// Peers to unchoke between rounds so that `regularSlots + 1` interested peers are unchoked: a slot freed by a
    /// peer that finished or left goes to a waiting peer at once, not at the next round (which left the last node of
    /// a 32-node lab run idle for 10 s). Waiting peers are taken in connection order.
    func fill(_ candidates: [Candidate]) -> [PeerKey] {
        let open = regularSlots + 1 - candidates.count { !$0.choked && $0.interested }
        guard open > 0 else { return [] }
        return Array(candidates.filter { $0.choked && $0.interested }.map(\.id).sorted().prefix(open))
    }
}
