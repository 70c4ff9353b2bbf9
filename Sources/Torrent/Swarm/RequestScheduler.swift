import NIOCore

/// Decides which blocks to ask of which peer, and keeps the books on every request in flight.
///
/// It owns the piece picker and each peer's outstanding requests, their send times and the adaptive queue depth.
/// Pure: the caller passes the clock (`now`), the randomness and the verified pieces; it returns what to send or
/// cancel and never touches a connection, so a simulator can drive it in virtual time.
struct RequestScheduler {
    /// One peer's requests as the scheduler sees them.
    struct PeerRequests {
        /// Whose books these are (nil: a free slot).
        var key: PeerKey?
        /// Requests sent and not answered yet.
        var outstanding: Set<BlockRequest> = [] { didSet { queued = outstanding.count } }
        /// `outstanding.count`, kept beside the other fields: the check run after every message reads it, and a
        /// set's count lives in the set's storage, one more cache miss per message at 10,000 simulated nodes.
        var queued = 0
        /// When each outstanding request was sent.
        var sentAt: [BlockRequest: NIODeadline] = [:]
        /// How many requests to keep in flight.
        var queueDepth: Int
        /// The last block from the peer, or when its pipeline last went from empty to busy.
        var lastBlockAt: NIODeadline
        /// Seconds the last answered request took; nil until one is answered.
        var lastRoundTrip: Double?
    }

    /// What a block that arrived turned out to be.
    enum Arrival: Equatable {
        /// Not asked of this peer (any more), or already in hand: counted as a duplicate and dropped.
        case duplicate
        /// New data: store it. `cancel` lists the other peers the same block was asked of (endgame).
        case accepted(pieceComplete: Bool, cancel: [PeerKey])
    }

    private(set) var picker: PiecePicker
    /// Each peer's books, in slots that a peer who left hands on to the next one (an array, so that reading a
    /// peer's queue copies nothing); `slots` finds a peer's, and a caller that kept the slot `join` gave skips that.
    private var books: [PeerRequests] = []
    private var slots: [PeerKey: Int] = [:]
    private var freeSlots: [Int] = []
    /// Request-side counters (duplicates, cancels sent, endgame, round trips).
    private(set) var statistics = SwarmStatistics()
    /// Pieces reset after a failed hash check (their blocks may then be outstanding at two peers).
    private var hashFailures = 0
    let minQueue: Int
    let maxQueue: Int
    /// Seconds of a peer's rate kept requested on top of `minQueue`.
    let horizon: Double
    let startedAt: NIODeadline

    init(picker: PiecePicker, minQueue: Int, maxQueue: Int, horizon: Double, startedAt: NIODeadline) {
        self.picker = picker
        self.minQueue = minQueue
        self.maxQueue = maxQueue
        self.horizon = horizon
        self.startedAt = startedAt
    }

    /// How many requests to keep in flight to a peer that sends `rate` bytes per second.
    func queueDepth(forRate rate: Double) -> Int {
        let depth = Int(rate * horizon / Double(picker.requestLength)) + minQueue
        return min(maxQueue, max(minQueue, depth))
    }

    func outstanding(_ peer: PeerKey) -> Set<BlockRequest> { slots[peer].map { books[$0].outstanding } ?? [] }

    /// A peer's books (nil: not joined).
    func books(of peer: PeerKey) -> PeerRequests? { slots[peer].map { books[$0] } }

    /// The slot of `peer`'s books: `hint` (the slot `join` gave) when it is still the peer's, else looked up.
    private func slot(_ peer: PeerKey, hint: Int = -1) -> Int? {
        if hint >= 0, hint < books.count, books[hint].key == peer { return hint }
        return slots[peer]
    }

    // MARK: Peers

    /// Opens the peer's books; returns their slot, which the caller may pass to `requests` to skip a lookup.
    @discardableResult
    mutating func join(_ peer: PeerKey, now: NIODeadline) -> Int {
        let fresh = PeerRequests(key: peer, queueDepth: minQueue, lastBlockAt: now)
        if let slot = slots[peer] {
            books[slot] = fresh
            return slot
        }
        let slot = freeSlots.popLast() ?? books.count
        if slot == books.count { books.append(fresh) } else { books[slot] = fresh }
        slots[peer] = slot
        return slot
    }

    /// The peer left: its requests are open to others, and it no longer counts towards availability.
    mutating func leave(_ peer: PeerKey, had bits: Bitfield) {
        release(peer)
        if let slot = slots.removeValue(forKey: peer) {
            books[slot] = PeerRequests(key: nil, queueDepth: minQueue, lastBlockAt: startedAt)
            freeSlots.append(slot)
        }
        picker.peerRemoved(bits)
        picker.peerGone(peer)
    }

    /// The peer choked us: everything asked of it may be asked of others.
    mutating func release(_ peer: PeerKey) {
        guard let slot = slots[peer] else { return }
        for request in books[slot].outstanding { picker.released(request) }
        books[slot].outstanding = []
        books[slot].sentAt = [:]
    }

    /// The peer refused one request (BEP 6 reject).
    mutating func rejected(_ request: BlockRequest, by peer: PeerKey) {
        guard let slot = slots[peer], books[slot].outstanding.remove(request) != nil else { return }
        books[slot].sentAt[request] = nil
        picker.released(request)
    }

    /// The peer announced a piece (`have`).
    mutating func peerHas(_ index: Int) { picker.peerHas(index) }

    /// The peer's whole set changed from `old` to `new` (a bitfield, have-all or have-none).
    mutating func peerBitfield(from old: Bitfield, to new: Bitfield) {
        picker.peerRemoved(old)
        picker.peerAdded(new)
    }

    /// Re-sizes the peer's pipeline for the rate it delivers at; a depth that slow start earned stays while the
    /// peer still answers within half the horizon (the rate of a young connection is not measured yet).
    mutating func adapt(_ peer: PeerKey, rate: Double) {
        guard let slot = slots[peer] else { return }
        var depth = queueDepth(forRate: rate)
        if let roundTrip = books[slot].lastRoundTrip, roundTrip < horizon / 2 {
            depth = max(depth, books[slot].queueDepth)
        }
        books[slot].queueDepth = depth
    }

    /// Whether the peer has had requests outstanding without sending a block for longer than `timeout`.
    func isStalled(_ peer: PeerKey, now: NIODeadline, timeout: TimeAmount) -> Bool {
        guard let slot = slots[peer], !books[slot].outstanding.isEmpty else { return false }
        return now - books[slot].lastBlockAt > timeout
    }

    // MARK: Requests

    /// The blocks to ask of `peer` now (already recorded as outstanding), keeping its pipeline full without
    /// topping it up one block at a time. `slot`: what `join` returned for the peer, if the caller kept it.
    mutating func requests(
        for peer: PeerKey,
        slot hint: Int = -1,
        peerHas bits: Bitfield,
        have: Bitfield,
        now: NIODeadline,
        using generator: inout some RandomNumberGenerator
    ) -> [BlockRequest] {
        // In place, through one index: a copy of the peer's books would copy its request set on every pick.
        guard !have.isComplete, let slot = slot(peer, hint: hint) else { return [] }
        let queued = books[slot].queued
        let room = books[slot].queueDepth - queued
        guard room > 0, queued <= books[slot].queueDepth / 2 || room >= 8 else { return [] }
        let endgameBefore = picker.endgameRequests
        let picks = picker.pick(
            peer: peer, peerHas: bits, have: have, limit: room, outstanding: books[slot].outstanding,
            using: &generator)
        guard !picks.isEmpty else { return [] }
        if picker.endgameRequests > endgameBefore {
            statistics.endgameRequests = picker.endgameRequests
            if statistics.endgameAfter == nil { statistics.endgameAfter = Self.seconds(now - startedAt) }
        }
        if queued == 0 { books[slot].lastBlockAt = now }
        for request in picks {
            books[slot].outstanding.insert(request)
            books[slot].sentAt[request] = now
        }
        return picks
    }

    /// Books a block from `peer`: whether to store it, and whose requests for it to cancel.
    mutating func received(_ request: BlockRequest, from peer: PeerKey, now: NIODeadline) -> Arrival {
        guard let slot = slots[peer] else { return duplicate(request) }
        books[slot].lastBlockAt = now
        guard books[slot].outstanding.remove(request) != nil else { return duplicate(request) }
        if let sent = books[slot].sentAt.removeValue(forKey: request) {
            let seconds = Self.seconds(now - sent)
            statistics.answeredRequests += 1
            statistics.requestSecondsTotal += seconds
            statistics.requestSecondsMax = max(statistics.requestSecondsMax, seconds)
            slowStart(slot, roundTrip: seconds)
        }
        let (isNew, complete) = picker.received(request)
        guard isNew else { return duplicate(request) }
        var cancel: [PeerKey] = []
        // Only endgame, or a piece reset after a failed hash, asks two peers for one block: otherwise no other peer
        // can have this one outstanding, and skipping the scan keeps a block O(1), not O(peers) (80 set lookups per
        // block at 10,000 nodes).
        if picker.endgameRequests > 0 || hashFailures > 0 {
            for other in books.indices where other != slot && books[other].outstanding.contains(request) {
                guard let key = books[other].key else { continue }
                books[other].outstanding.remove(request)
                books[other].sentAt[request] = nil
                cancel.append(key)
            }
        }
        statistics.cancelsSent += cancel.count
        return .accepted(pieceComplete: complete, cancel: cancel.sorted())
    }

    /// Slow start, as TCP grows its window: each request answered within half the horizon adds one to the peer's
    /// depth, so a fast peer's pipeline doubles every round trip instead of waiting a second for a measured rate.
    /// A peer whose answers queue behind its rate stops it: its round trip reaches half the horizon before its
    /// depth passes what `queueDepth(forRate:)` would give it.
    private mutating func slowStart(_ slot: Int, roundTrip: Double) {
        let depth = books[slot].queueDepth
        books[slot].lastRoundTrip = roundTrip
        if roundTrip < horizon / 2, depth < maxQueue { books[slot].queueDepth = depth + 1 }
    }

    private mutating func duplicate(_ request: BlockRequest) -> Arrival {
        statistics.duplicateBlocks += 1
        statistics.duplicateBytes += Int64(request.length)
        return .duplicate
    }

    // MARK: Pieces

    /// The piece passed its hash check.
    mutating func verified(_ index: Int) { picker.verified(index) }

    /// The piece failed its hash check: fetch it again, from one peer if `solo`.
    mutating func failed(_ index: Int, solo: Bool) {
        hashFailures += 1
        picker.failed(index, solo: solo)
    }

    /// Pieces no connected peer has and nobody fetches, for the web seed.
    func orphans(have: Bitfield, limit: Int) -> [Int] { picker.orphans(have: have, limit: limit) }

    /// Takes a piece out of the peers' reach while the web seed fetches it.
    mutating func reserve(_ index: Int) { picker.reserve(index) }

    static func seconds(_ amount: TimeAmount) -> Double { Double(amount.nanoseconds) / 1e9 }
}
