/// Which piece an initial seed offers next when super-seeding (BEP 16).
///
/// A super-seed hides its bitfield and offers each peer a few pieces at a time (a `have` each), so that every piece
/// leaves the seed once and peers spread it among themselves. A piece is offered again only when no offer of it is
/// pending and no connected peer has it (its holder left). Pure: the caller reports offers and their outcome and
/// passes the randomness.
struct SuperSeeder {
    /// Offers of each piece the peer has not answered yet (no `have` from it, still unchoked and connected).
    private(set) var pending: [Int]
    /// Offers of each piece that ended with the peer having it.
    private(set) var delivered: [Int]

    init(pieceCount: Int) {
        pending = [Int](repeating: 0, count: pieceCount)
        delivered = [Int](repeating: 0, count: pieceCount)
    }

    /// The piece to offer a peer that has `peerHas` and holds the offers `held`, given how many connected peers have
    /// each piece (`availability`): a piece never delivered first, else one that no connected peer has any more;
    /// never one with an offer pending elsewhere. Ties go to the rarest, then at random. Nil: nothing to offer.
    ///
    /// `starving`: the peer got nothing from us for a while although it lacks pieces, so the peers that have them
    /// are not serving it (unreachable, or choking it). Any piece it lacks may then go, the rarest first.
    mutating func next(
        peerHas: Bitfield,
        held: Set<Int>,
        availability: [Int],
        starving: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> Int? {
        var best: [Int] = []
        var bestKey = (Int.max, Int.max)
        for index in 0..<pending.count
        where pending[index] == 0 && !peerHas.contains(index) && !held.contains(index)
            && (starving || delivered[index] == 0 || availability[index] == 0)
        {
            let key = starving ? (availability[index], delivered[index]) : (delivered[index], availability[index])
            if key < bestKey {
                bestKey = key
                best = [index]
            } else if key == bestKey {
                best.append(index)
            }
        }
        guard let index = best.randomElement(using: &generator) else { return nil }
        pending[index] += 1
        return index
    }

    /// The caller offered `index` outside `next` (see `SuperSeedOffers`): one more pending offer of it.
    mutating func offered(_ index: Int) { pending[index] += 1 }

    /// The peer now has an offered piece.
    mutating func delivered(_ index: Int) {
        if pending[index] > 0 { pending[index] -= 1 }
        delivered[index] += 1
    }

    /// Offers that ended without the piece (the peer left, was choked, or already had it): free to offer again.
    mutating func withdrawn(_ pieces: some Sequence<Int>) {
        for index in pieces where pending[index] > 0 { pending[index] -= 1 }
    }
}
