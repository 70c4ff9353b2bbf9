/// What a node knows of its rack, and the rule that keeps its traffic there (issue 21, section 4).
///
/// When the tracker names our rack (its `rack peers` and `rack hosts` keys) and the rule is on
/// (`TorrentConfiguration.rackPreference`, or the tracker's `keep in rack`), a peer outside the rack (another
/// rack's node, or the seed on the core) is asked only for pieces that no connected rack peer has, so that each piece
/// crosses the rack's uplink about once and spreads inside the rack; and first for this node's share of them (piece
/// index modulo the connected rack members, ranked by address), so that two members rarely bring the same piece in at
/// once. When the rest of those opens is `SwarmDriver.pickRequests`' choice. Without racks (another tracker, or a
/// node in no rack) or with the rule off, every peer is asked for everything.
///
/// Pure bookkeeping: the driver reports rack peers' pieces as they come and go (`SwarmDriver`).
struct RackLocality {
    /// Hosts the tracker placed in our rack.
    private(set) var hosts: Set<String> = []
    /// The tracker asks to keep traffic in racks (`keep in rack`): it lists only our rack and the core's seeds, so
    /// whoever dials us is a rack peer too.
    var keep = false
    /// Our own address, for the share's ranking (the session learns it from a connection).
    var ownHost: String?
    /// Per piece, the connected rack peers that have it; and the pieces at least one has.
    private var holders: [Int32]
    private(set) var rackHas: Bitfield
    /// Handshaken rack connections by host: the members that split the imports.
    private var members: [String: Int] = [:]
    /// The pieces outside this node's share (`index % members != rank`), rebuilt when the members change.
    private var others: Bitfield?

    init(pieceCount: Int) {
        holders = [Int32](repeating: 0, count: pieceCount)
        rackHas = Bitfield(count: pieceCount)
    }

    /// Whether the rule applies: the tracker named our rack.
    var isActive: Bool { keep || !hosts.isEmpty }

    /// Whether a connection to `host` is a rack peer.
    func isLocal(host: String, outgoing: Bool) -> Bool { hosts.contains(host) || (keep && !outgoing) }

    /// Takes the tracker's rack hosts; returns whether any is new.
    mutating func learn(_ more: some Sequence<String>) -> Bool {
        let before = hosts.count
        hosts.formUnion(more)
        return hosts.count != before
    }

    /// A rack peer with pieces `has` joined (its handshake), or left.
    mutating func member(_ host: String, has: Bitfield, joined: Bool) {
        let count = (members[host] ?? 0) + (joined ? 1 : -1)
        members[host] = count > 0 ? count : nil
        others = nil
        has.forEach { joined ? add($0) : drop($0) }
    }

    /// A rack peer's set changed from `old` to `new` (its bitfield).
    mutating func replace(_ old: Bitfield, with new: Bitfield) {
        old.forEach { drop($0) }
        new.forEach { add($0) }
    }

    /// A rack peer now has `index`.
    mutating func add(_ index: Int) {
        holders[index] += 1
        if holders[index] == 1 { rackHas.insert(index) }
    }

    private mutating func drop(_ index: Int) {
        holders[index] -= 1
        if holders[index] == 0 { rackHas.remove(index) }
    }

    /// What to ask a peer outside the rack for first (`share`) and at most (`importable`), of the pieces `has` it has.
    mutating func importable(from has: Bitfield) -> (share: Bitfield, importable: Bitfield) {
        var bits = has
        bits.subtract(rackHas)
        guard let ownHost, !members.isEmpty else { return (bits, bits) }
        if others == nil {
            let ranked = Set(members.keys).union([ownHost]).sorted()
            let rank = ranked.firstIndex(of: ownHost) ?? 0
            var notMine = Bitfield(count: has.count, allSet: true)
            for index in stride(from: rank, to: has.count, by: ranked.count) { notMine.remove(index) }
            others = notMine
        }
        var first = bits
        if let others { first.subtract(others) }
        return (first, bits)
    }
}
