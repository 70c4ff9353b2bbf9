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
    /// Whether each piece is in `partials`: the rarest-first scan asks this of every piece a peer offers, on every
    /// pick, so an array read, not a hash lookup.
    private var inProgress: [Bool]
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
        self.inProgress = [Bool](repeating: false, count: pieceCount)
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
    func isEndgame(have: Bitfield) -> Bool {
        guard have.setCount + partials.count == pieceCount else { return false }
        return partials.values.allSatisfy { partial in
            partial.verifying || zip(partial.requests, partial.received).allSatisfy { $0 > 0 || $1 }
        }
    }

    // MARK: Availability

    mutating func peerHas(_ index: Int) { availability[index] += 1 }

    mutating func peerAdded(_ bits: Bitfield) {
        for index in 0..<pieceCount where bits.contains(index) { availability[index] += 1 }
    }

    mutating func peerRemoved(_ bits: Bitfield) {
        for index in 0..<pieceCount where bits.contains(index) { availability[index] = max(0, availability[index] - 1) }
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
        // 1. Finish pieces already started, most complete first.
        let started = partials.filter {
            bits.contains($0.key) && !$0.value.verifying && ($0.value.owner == nil || $0.value.owner == peer)
        }
        .sorted { $0.value.receivedCount > $1.value.receivedCount }.map(\.key)
        for index in started {
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
                inProgress[index] = true
                take(index, limit: limit, into: &picked, duplicates: false, outstanding: outstanding)
                if picked.count >= limit { return picked }
            }
        }
        // 3. Endgame: once every missing block is requested, ask for blocks already requested from someone else.
        if picked.isEmpty, isEndgame(have: have) {
            for index in started where partials[index]?.owner == nil {
                take(index, limit: limit, into: &picked, duplicates: true, outstanding: outstanding)
                if picked.count >= limit { break }
            }
        }
        return picked
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
        // A byte at a time: pieces the peer has and we lack, skipping the (many) bytes with none.
        for byte in 0..<min(bits.bytes.count, have.bytes.count) {
            var wanted = bits.bytes[byte] & ~have.bytes[byte]
            while wanted != 0 {
                let bit = wanted.leadingZeroBitCount
                wanted &= ~(0x80 >> UInt8(bit))
                let index = byte << 3 | bit
                guard index < pieceCount, !inProgress[index] else { continue }
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
        guard var partial = partials[index] else { return }
        for block in 0..<partial.received.count where !partial.received[block] && picked.count < limit {
            let request = request(piece: index, block: block)
            if duplicates {
                guard partial.requests[block] == 1, !outstanding.contains(request) else {
                    continue
                }
            } else if partial.requests[block] > 0 {
                continue
            }
            if duplicates { endgameRequests += 1 }
            partial.requests[block] &+= 1
            picked.append(request)
        }
        partials[index] = partial
    }

    /// Pieces no connected peer has and nobody is fetching: candidates for the HTTP web seed.
    func orphans(have: Bitfield, limit: Int) -> [Int] {
        var found: [Int] = []
        for index in 0..<pieceCount where availability[index] == 0 && !have.contains(index) && !inProgress[index] {
            found.append(index)
            if found.count == limit { break }
        }
        return found
    }

    /// Takes a whole piece out of the peers' reach while it is fetched elsewhere (a web seed).
    mutating func reserve(_ index: Int) {
        var partial = Partial(blocks: blockCount(index))
        partial.verifying = true
        partials[index] = partial
        inProgress[index] = true
    }

    // MARK: Events

    /// A request was dropped (choke, cancel, disconnect): the block may be asked for again.
    mutating func released(_ request: BlockRequest) {
        let index = Int(request.piece)
        guard var partial = partials[index] else { return }
        let block = Int(request.begin) / requestLength
        guard block < partial.requests.count else { return }
        if partial.requests[block] > 0 { partial.requests[block] -= 1 }
        partials[index] = partial
    }

    /// Records a received block; returns whether it was new and whether its piece is now complete.
    mutating func received(_ request: BlockRequest) -> (isNew: Bool, pieceComplete: Bool) {
        let index = Int(request.piece)
        guard var partial = partials[index], !partial.verifying else { return (false, false) }
        let block = Int(request.begin) / requestLength
        guard block < partial.received.count, !partial.received[block] else { return (false, false) }
        partial.received[block] = true
        partial.receivedCount += 1
        if partial.requests[block] > 0 { partial.requests[block] -= 1 }
        let complete = partial.isComplete
        if complete { partial.verifying = true }
        partials[index] = partial
        return (true, complete)
    }

    /// The piece passed its hash check (the caller records it in its have-set): its download state goes.
    mutating func verified(_ index: Int) {
        partials[index] = nil
        inProgress[index] = false
    }

    /// The piece failed its hash check: every block must be fetched again (from one peer if `solo`).
    mutating func failed(_ index: Int, solo: Bool) {
        partials[index] = nil
        inProgress[index] = false
        if solo { soloPieces.insert(index) }
    }

    /// A peer left: pieces reserved for it are open to everyone again.
    mutating func peerGone(_ peer: PeerKey) {
        for (index, partial) in partials where partial.owner == peer { partials[index]?.owner = nil }
    }
}
