/// One torrent's swarm as the tracker keeps it: the peers by the address each listens on (`host:port`), and
/// indices by rack and by seed or leech state, so that an announce costs O(numwant), not O(swarm).
///
/// A new peer id from the same address replaces its entry rather than adding one. Every change goes through
/// `upsert` and `remove`, which keep the indices and the counts in step with `peers`.
struct TrackerSwarm: Sendable {
    /// One peer in a swarm.
    struct Entry: Sendable {
        var peerID: [UInt8]
        var host: String
        var port: Int
        var left: Int64
        var rack: String?
        var lastSeen: Double
        /// Positions in the pools of its group (`all`) and of its rack (`byRack`).
        fileprivate var allSlot = 0
        fileprivate var rackSlot = 0

        init(peerID: [UInt8], host: String, port: Int, left: Int64, rack: String?, lastSeen: Double) {
            self.peerID = peerID
            self.host = host
            self.port = port
            self.left = left
            self.rack = rack
            self.lastSeen = lastSeen
        }

        var isSeed: Bool { left == 0 }
    }

    /// A rack (nil: none known) and a state: the pool a peer sits in.
    struct Group: Hashable, Sendable {
        var rack: String?
        var seed: Bool
    }

    private(set) var peers: [String: Entry] = [:]
    var completed = 0
    /// Endpoints of every seed (`[true]`) and leech (`[false]`), in no order.
    private var all: [Bool: [String]] = [true: [], false: []]
    /// Endpoints by rack and state, in no order.
    private var byRack: [Group: [String]] = [:]
    private var hostCounts: [String: Int] = [:]

    var seeders: Int { all[true]?.count ?? 0 }
    var isEmpty: Bool { peers.isEmpty }

    /// How many entries an address holds.
    func entries(of host: String) -> Int { hostCounts[host] ?? 0 }

    func count(_ group: Group) -> Int { byRack[group]?.count ?? 0 }

    func count(seed: Bool) -> Int { all[seed]?.count ?? 0 }

    /// Adds or replaces the entry at `endpoint`.
    mutating func upsert(_ endpoint: String, _ entry: Entry) {
        remove(endpoint)
        var entry = entry
        let group = Group(rack: entry.rack, seed: entry.isSeed)
        entry.allSlot = all[entry.isSeed, default: []].count
        all[entry.isSeed, default: []].append(endpoint)
        entry.rackSlot = byRack[group, default: []].count
        byRack[group, default: []].append(endpoint)
        hostCounts[entry.host, default: 0] += 1
        peers[endpoint] = entry
    }

    /// Removes the entry at `endpoint`, if any (swap-remove from its pools).
    mutating func remove(_ endpoint: String) {
        guard let entry = peers.removeValue(forKey: endpoint) else { return }
        let group = Group(rack: entry.rack, seed: entry.isSeed)
        if let moved = all[entry.isSeed]?.swapRemove(at: entry.allSlot) { peers[moved]?.allSlot = entry.allSlot }
        if let moved = byRack[group]?.swapRemove(at: entry.rackSlot) { peers[moved]?.rackSlot = entry.rackSlot }
        if byRack[group]?.isEmpty == true { byRack[group] = nil }
        let left = (hostCounts[entry.host] ?? 1) - 1
        hostCounts[entry.host] = left > 0 ? left : nil
    }

    /// Removes the entries last seen before `expiry`; whether any went.
    mutating func expire(before expiry: Double) -> Bool {
        let stale = peers.compactMap { $0.value.lastSeen < expiry ? $0.key : nil }
        for endpoint in stale { remove(endpoint) }
        return !stale.isEmpty
    }

    // MARK: Drawing peers at random

    /// A lazy random order over some of the swarm's endpoints, drawn one at a time without repeats: a
    /// Fisher–Yates shuffle that only swaps the positions it reaches (kept in a small map), so `k` draws cost O(k)
    /// whatever the pool's size.
    struct Draw {
        fileprivate var pool: [String]
        fileprivate var taken = 0
        fileprivate var swapped: [Int: Int] = [:]
        /// Entries drawn and skipped are left out (the rack excluded from a pool of every rack).
        fileprivate var skip: (String) -> Bool

        mutating func next(using generator: inout some RandomNumberGenerator) -> String? {
            while taken < pool.count {
                let pick = Int.random(in: taken..<pool.count, using: &generator)
                let value = swapped[pick] ?? pick
                swapped[pick] = swapped[taken] ?? taken
                taken += 1
                if !skip(pool[value]) { return pool[value] }
            }
            return nil
        }
    }

    /// Draws from the peers of `rack` in state `seed`.
    func draw(rack: String?, seed: Bool) -> Draw {
        Draw(pool: byRack[Group(rack: rack, seed: seed)] ?? [], skip: { _ in false })
    }

    /// Draws from the peers in state `seed` outside `rack` (every rack when nil).
    ///
    /// From the whole pool, skipping the rack's own, while they are at most 7 in 8 of it (a draw then costs at most
    /// 8 tries on average); otherwise from a list of the other racks' peers built for this draw, which holds fewer
    /// than one in 8 of the pool.
    func draw(outside rack: String?, seed: Bool) -> Draw {
        let pool = all[seed] ?? []
        guard let rack else { return Draw(pool: pool, skip: { _ in false }) }
        let own = count(Group(rack: rack, seed: seed))
        if (pool.count - own) * 8 >= pool.count {
            let peers = peers
            return Draw(pool: pool, skip: { peers[$0]?.rack == rack })
        }
        var others: [String] = []
        for (group, endpoints) in byRack where group.seed == seed && group.rack != rack {
            others += endpoints
        }
        return Draw(pool: others, skip: { _ in false })
    }

    /// Draws seeds first, then leeches.
    struct SeedsFirst {
        var seeds: Draw
        var leeches: Draw
        /// How many the two hold, before any draw.
        let count: Int

        mutating func next(using generator: inout some RandomNumberGenerator) -> String? {
            seeds.next(using: &generator) ?? leeches.next(using: &generator)
        }
    }

    /// The peers of `rack`, seeds first, each in random order.
    func sameRack(_ rack: String?) -> SeedsFirst {
        guard let rack else { return SeedsFirst(seeds: .empty, leeches: .empty, count: 0) }
        return SeedsFirst(
            seeds: draw(rack: rack, seed: true), leeches: draw(rack: rack, seed: false),
            count: count(Group(rack: rack, seed: true)) + count(Group(rack: rack, seed: false)))
    }

    /// The peers outside `rack` (everyone when nil), seeds first, each in random order.
    func otherRacks(_ rack: String?) -> SeedsFirst {
        let own = rack.map { count(Group(rack: $0, seed: true)) + count(Group(rack: $0, seed: false)) } ?? 0
        return SeedsFirst(
            seeds: draw(outside: rack, seed: true), leeches: draw(outside: rack, seed: false),
            count: peers.count - own)
    }
}

extension TrackerSwarm.Draw {
    static var empty: Self { Self(pool: [], skip: { _ in false }) }
}

extension Array {
    /// Removes the element at `index` by moving the last one there; returns the moved one (nil if none moved).
    fileprivate mutating func swapRemove(at index: Int) -> Element? {
        guard indices.contains(index) else { return nil }
        let last = removeLast()
        guard index < count else { return nil }
        self[index] = last
        return last
    }
}
