/// Tit-for-tat choking: regular slots go to the best-rated interested peers, one more slot rotates optimistically.
///
/// Pure: the session passes the peers and a round number, and applies the returned unchoke set.
struct Choker {
    /// One peer as the choker sees it.
    struct Candidate {
        var id: ObjectIdentifier
        var interested: Bool
        /// Download rate from the peer while leeching; upload rate to it while seeding.
        var rate: Double
    }

    /// Regular (rate-ranked) unchoke slots.
    var regularSlots: Int
    /// The current optimistic unchoke.
    private(set) var optimistic: ObjectIdentifier?

    init(regularSlots: Int) {
        self.regularSlots = regularSlots
    }

    /// Returns the set of peers to unchoke; rotates the optimistic slot when `rotateOptimistic` is set.
    mutating func round(
        _ candidates: [Candidate],
        rotateOptimistic: Bool,
        using generator: inout some RandomNumberGenerator
    ) -> Set<ObjectIdentifier> {
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
}
