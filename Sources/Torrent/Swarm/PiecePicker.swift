/// Chooses which 16 KiB blocks to request: random first pieces, then rarest-first, then endgame duplicates.
///
/// Endgame starts only when every missing block has a request out, and asks for each block at most twice: a peer
/// that has nothing new for us otherwise stays idle rather than duplicate what others are already sending.
///
/// Pure bookkeeping: no I/O, no clock and no randomness of its own (the caller passes a generator, seeded in tests).
/// It does not own the verified pieces either: callers pass the authoritative have-set to each decision.
struct PiecePicker {
    /// The standard request size.
    static let blockSize = 16 << 10
    /// How many pieces are picked at random before switching to rarest-first.
    static let randomFirstPieces = 4

    /// Download state of a piece that has at least one block requested.
    struct Partial {
        var requests: [UInt8]
        var received: [Bool]
        var receivedCount = 0
        var verifying = false
        /// Set for a piece that failed with blocks from several peers: one peer fetches it whole, to find the liar.
        var owner: PeerKey?

        init(blocks: Int) {
            requests = [UInt8](repeating: 0, count: blocks)
            received = [Bool](repeating: false, count: blocks)
        }

        var isComplete: Bool { receivedCount == received.count }
    }

    let pieceCount: Int
    let pieceLength: Int
    let totalLength: Int64
    /// How many connected peers have each piece.
    private(set) var availability: [Int]
    /// Pieces being downloaded.
    private(set) var partials: [Int: Partial] = [:]
    /// The pieces in `partials`: the rarest-first scan masks them out a word at a time, not a hash lookup per piece.
    private var inProgress: Bitfield
    /// Blocks of pieces in `partials` (not verifying) that are neither received nor requested. While there are
    /// none, finishing started pieces has nothing to take, so a pick skips it, and endgame may begin.
    private(set) var openBlocks = 0
    /// Pieces to fetch from a single peer next time (they failed with mixed sources).
    private(set) var soloPieces: Set<Int> = []
    /// Requests handed out for blocks already requested from another peer.
    private(set) var endgameRequests = 0

    /// The size of one request: `blockSize` on the wire; a simulator may coarsen it to model fewer, larger requests.
    let requestLength: Int

    init(pieceCount: Int, pieceLength: Int, totalLength: Int64, requestLength: Int = Self.blockSize) {
        self.pieceCount = pieceCount
        self.pieceLength = pieceLength
        self.totalLength = totalLength
        self.requestLength = requestLength
        self.availability = [Int](repeating: 0, count: pieceCount)
        self.inProgress = Bitfield(count: pieceCount)
    }

    func pieceSize(_ index: Int) -> Int {
        Int(min(Int64(pieceLength), totalLength - Int64(index) * Int64(pieceLength)))
    }

    func blockCount(_ index: Int) -> Int { (pieceSize(index) + requestLength - 1) / requestLength }

    func request(piece: Int, block: Int) -> BlockRequest {
        let begin = block * requestLength
        let length = min(requestLength, pieceSize(piece) - begin)
        return BlockRequest(piece: UInt32(piece), begin: UInt32(begin), length: UInt32(length))
    }

    /// Whether every block missing from `have` has at least one request outstanding (endgame).
    func isEndgame(have: Bitfield) -> Bool { have.setCount + partials.count == pieceCount && openBlocks == 0 }

    // MARK: Availability

    mutating func peerHas(_ index: Int) { availability[index] += 1 }

    mutating func peerAdded(_ bits: Bitfield) {
        bits.forEach { index in if index < pieceCount { availability[index] += 1 } }
    }

    mutating func peerRemoved(_ bits: Bitfield) {
        bits.forEach { index in if index < pieceCount { availability[index] = max(0, availability[index] - 1) } }
    }

    // MARK: Picking

    /// Picks up to `limit` blocks that the peer has and `have` lacks, never one in `outstanding` (already asked of
    /// this peer); ties between new pieces are broken with `generator`.
    mutating func pick(
        peer: PeerKey,
        peerHas bits: Bitfield,
        have: Bitfield,
        limit: Int,
        outstanding: Set<BlockRequest>,
        using generator: inout some RandomNumberGenerator
    ) -> [BlockRequest] {
        var picked: [BlockRequest] = []
        guard limit > 0 else { return picked }
        // 1. Finish pieces already started, most complete first (nothing to take while no block is open).
        let started = openBlocks > 0 ? self.started(by: peer, peerHas: bits) : nil
        for index in started ?? [] {
            take(index, limit: limit, into: &picked, duplicates: false, outstanding: outstanding)
            if picked.count >= limit { return picked }
        }
        // 2. Start new pieces: random at first, then rarest-first.
        while picked.count < limit {
            let fresh = candidates(bits, have: have, using: &generator)
            if fresh.isEmpty { break }
            for index in fresh {
                var partial = Partial(blocks: blockCount(index))
                if soloPieces.remove(index) != nil { partial.owner = peer }
                partials[index] = partial
                inProgress.insert(index)
                openBlocks += partial.received.count
                take(index, limit: limit, into: &picked, duplicates: false, outstanding: outstanding)
                if picked.count >= limit { return picked }
            }
        }
        // 3. Endgame: once every missing block is requested, ask for blocks already requested from someone else.
        // (Nothing was picked, so step 2 started no piece and `started` is what step 1 would have seen.)
        if picked.isEmpty, isEndgame(have: have) {
            for index in started ?? self.started(by: peer, peerHas: bits) where partials[index]?.owner == nil {
                take(index, limit: limit, into: &picked, duplicates: true, outstanding: outstanding)
                if picked.count >= limit { break }
            }
        }
        return picked
    }

    /// Pieces in progress that `peer` may finish (it has them; not verifying; not reserved for another peer), most
    /// complete first.
    private func started(by peer: PeerKey, peerHas bits: Bitfield) -> [Int] {
        partials.filter {
            bits.contains($0.key) && !$0.value.verifying && ($0.value.owner == nil || $0.value.owner == peer)
        }
        .sorted { $0.value.receivedCount > $1.value.receivedCount }.map(\.key)
    }

    /// Pieces nobody started that the peer has: one at random while we have few pieces, else the rarest ones.
    private func candidates(
        _ bits: Bitfield,
        have: Bitfield,
        using generator: inout some RandomNumberGenerator
    ) -> [Int] {
        var best: [Int] = []
        var bestAvailability = Int.max
        let random = have.setCount < Self.randomFirstPieces
        // A word at a time: pieces the peer has, we lack and nobody started, skipping the (many) words with none.
        for word in 0..<min(bits.words.count, have.words.count, inProgress.words.count) {
            var wanted = bits.words[word] & ~have.words[word] & ~inProgress.words[word]
            while wanted != 0 {
                let bit = wanted.leadingZeroBitCount
                wanted &= ~((1 as UInt64) << UInt64(63 - bit))
                let index = word << 6 | bit
                let rank = random ? 0 : availability[index]
                if rank < bestAvailability {
                    bestAvailability = rank
                    best = [index]
                } else if rank == bestAvailability {
                    best.append(index)
                }
            }
        }
        best.shuffle(using: &generator)
        return Array(best.prefix(random ? 1 : 8))
    }

    private mutating func take(
        _ index: Int,
        limit: Int,
        into picked: inout [BlockRequest],
        duplicates: Bool,
        outstanding: Set<BlockRequest>
    ) {
        // In place through the dictionary's index: a copy out and back would copy the piece's arrays on every pick.
        guard let slot = partials.index(forKey: index) else { return }
        for block in 0..<partials.values[slot].received.count
        where !partials.values[slot].received[block] && picked.count < limit {
            let request = request(piece: index, block: block)
            let requested = partials.values[slot].requests[block]
            if duplicates {
                guard requested == 1, !outstanding.contains(request) else {
                    continue
                }
            } else if requested > 0 {
                continue
            }
            if duplicates { endgameRequests += 1 } else { openBlocks -= 1 }
            partials.values[slot].requests[block] &+= 1
            picked.append(request)
        }
    }

    /// Pieces no connected peer has and nobody is fetching: candidates for the HTTP web seed.
    func orphans(have: Bitfield, limit: Int) -> [Int] {
        var found: [Int] = []
        for index in 0..<pieceCount
        where availability[index] == 0 && !have.contains(index) && !inProgress.contains(index) {
            found.append(index)
            if found.count == limit { break }
        }
        return found
    }

    /// Takes a whole piece out of the peers' reach while it is fetched elsewhere (a web seed).
    mutating func reserve(_ index: Int) {
        var partial = Partial(blocks: blockCount(index))
        partial.verifying = true
        close(partials.updateValue(partial, forKey: index))
        inProgress.insert(index)
    }

    // MARK: Events

    /// A request was dropped (choke, cancel, disconnect): the block may be asked for again.
    mutating func released(_ request: BlockRequest) {
        let index = Int(request.piece)
        guard let slot = partials.index(forKey: index) else { return }
        let block = Int(request.begin) / requestLength
        guard block < partials.values[slot].requests.count, partials.values[slot].requests[block] > 0 else { return }
        partials.values[slot].requests[block] -= 1
        let partial = partials.values[slot]
        if partial.requests[block] == 0, !partial.received[block], !partial.verifying { openBlocks += 1 }
    }

    /// Records a received block; returns whether it was new and whether its piece is now complete.
    mutating func received(_ request: BlockRequest) -> (isNew: Bool, pieceComplete: Bool) {
        let index = Int(request.piece)
        guard let slot = partials.index(forKey: index), !partials.values[slot].verifying else { return (false, false) }
        let block = Int(request.begin) / requestLength
        guard block < partials.values[slot].received.count, !partials.values[slot].received[block] else {
            return (false, false)
        }
        partials.values[slot].received[block] = true
        partials.values[slot].receivedCount += 1
        if partials.values[slot].requests[block] > 0 {
            partials.values[slot].requests[block] -= 1
        } else {
            openBlocks -= 1
        }
        let complete = partials.values[slot].isComplete
        if complete { partials.values[slot].verifying = true }
        return (true, complete)
    }

    /// The piece passed its hash check (the caller records it in its have-set): its download state goes.
    mutating func verified(_ index: Int) {
        close(partials.removeValue(forKey: index))
        inProgress.remove(index)
    }

    /// The piece failed its hash check: every block must be fetched again (from one peer if `solo`).
    mutating func failed(_ index: Int, solo: Bool) {
        close(partials.removeValue(forKey: index))
        inProgress.remove(index)
        if solo { soloPieces.insert(index) }
    }

    /// A piece's download state went (or was replaced): its open blocks no longer count.
    private mutating func close(_ partial: Partial?) {
        guard let partial, !partial.verifying else { return }
        for block in partial.received.indices where !partial.received[block] && partial.requests[block] == 0 {
            openBlocks -= 1
        }
    }

    /// A peer left: pieces reserved for it are open to everyone again.
    mutating func peerGone(_ peer: PeerKey) {
        for (index, partial) in partials where partial.owner == peer { partials[index]?.owner = nil }
    }
}
