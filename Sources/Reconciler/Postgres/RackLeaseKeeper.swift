import Foundation
import Logging
import ReconcilerStore

/// Holds this reconciler's share of the racks: joins the members, renews its leases every third of the TTL while
/// it works, gives back what is over its share at the start of a pass, and takes free racks up to its share.
///
/// The share is even: with `n` racks and `m` live reconcilers (sorted by shard id), each holds `n / m`, and the
/// first `n % m` one more. A reconciler that joins is seen by the others at their next round; they give back their
/// excess at their next pass, and it takes it at its next round: within two lease periods when passes are shorter
/// than the TTL. A round that cannot reach the store, or finds a lease gone, forgets those racks at once: the next
/// pass plans nothing for them, and any journal write on them is refused by the store (the fencing token).
public actor RackLeaseKeeper {
    public nonisolated let store: PostgresStateStore
    public nonisolated let ttl: Duration
    /// Where this reconciler's boot server, tracker and report endpoint answer (`http://HOST:PORT`), published
    /// with its membership: the boot entries it writes name it, and the others' entries list it as a fallback.
    public nonisolated let address: String?
    let logger: Logger
    /// Awaited before the first heartbeat: the servers at `address` answer before this reconciler is a member, so
    /// no entry it writes (and no other's fallback list) names a server that is not up.
    private let ready: @Sendable () async -> Void
    private var held: [String: Int64] = [:]
    private var racks: [String] = []
    /// The live members as of the last round, with their addresses.
    private var members: [ShardMember] = []
    /// Racks taken since `takenRacks()` was last asked.
    private var taken: Set<String> = []
    /// The fallbacks as of the last `takenRacks()`.
    private var rewrittenFor: [String] = []

    public init(store: PostgresStateStore, ttl: Duration, address: String?, logger: Logger,
                ready: @escaping @Sendable () async -> Void = {}) {
        self.store = store
        self.ttl = ttl
        self.address = address
        self.logger = logger
        self.ready = ready
    }

    /// The racks held now, with their fencing tokens.
    public var leases: [String: Int64] { held }

    /// The other live members' addresses, in shard order starting after this one (so the members' fallback lists
    /// do not all begin with the same reconciler).
    public var fallbacks: [String] {
        let shard = store.shard ?? ""
        let after = members.filter { $0.shard > shard } + members.filter { $0.shard < shard }
        return after.compactMap(\.address).filter { $0 != address }
    }

    /// The racks whose nodes' boot entries the pass rewrites: those taken since the last call that are still
    /// held, or every rack held when the members' addresses (the entries' fallbacks) changed since.
    public func takenRacks() -> Set<String> {
        defer {
            taken = []
            rewrittenFor = fallbacks
        }
        return fallbacks == rewrittenFor ? taken.intersection(held.keys) : Set(held.keys)
    }

    /// This shard's share of `racks` racks among `members` (sorted); a shard not listed yet counts as the last.
    public static func share(racks: Int, members: [String], shard: String) -> Int {
        let everyone = members.contains(shard) ? members : members + [shard]
        guard let index = everyone.firstIndex(of: shard) else { return 0 }
        let count = everyone.count
        return racks / count + (index < racks % count ? 1 : 0)
    }

    /// At the start of a pass: the site's racks are `racks`; gives back what is over the share and takes free racks
    /// up to it. Answers the racks this reconciler may act on in the pass.
    public func hold(_ racks: Set<String>) async throws -> Set<String> {
        self.racks = racks.sorted()
        try await round(release: true)
        return Set(held.keys)
    }

    /// One renewal round between passes: heartbeat, renew, and take free racks up to the share (a dead member's,
    /// once its lease expired). Gives nothing back: a pass may be working on every rack held.
    public func renew() async {
        do {
            try await round(release: false)
        } catch {
            if !held.isEmpty || error is AddressInUse {
                logger.error("cannot renew rack leases; acting on none until renewed", metadata: [
                    "error": "\(error)", "racks": "\(held.keys.sorted().joined(separator: ","))",
                ])
            }
            held = [:]
        }
    }

    /// Renews every third of the TTL until cancelled, then leaves (gives every rack back at once).
    public func run() async {
        while !Task.isCancelled {
            await renew()
            try? await Task.sleep(for: ttl / 3)
        }
        try? await store.leave()
    }

    private func round(release: Bool) async throws {
        guard let shard = store.shard else { return }
        await ready()
        let everyone = try await store.heartbeatMembers(address: address, ttl: ttl)
        // Of two members on one address, the one that started first keeps it (the shard id breaks a tie).
        let me = everyone.first { $0.shard == shard }
        let earlier = { (other: ShardMember) in
            guard let me else { return true }
            return (other.startedAt, other.shard) < (me.startedAt, me.shard)
        }
        if let address, let twin = everyone.first(where: { $0.shard != shard && $0.address == address && earlier($0) })
        {
            held = [:]
            throw AddressInUse(address: address, shard: shard, holder: twin.shard)
        }
        members = everyone
        let members = everyone.map(\.shard)
        let renewed = try await store.renewLeases(ttl: ttl)
        let lost = Set(held.keys).subtracting(renewed.keys)
        if !lost.isEmpty {
            logger.warning("rack leases lost", metadata: ["racks": "\(lost.sorted().joined(separator: ","))"])
        }
        held = renewed
        let share = Self.share(racks: racks.count, members: members, shard: shard)
        if release && held.count > share {
            let excess = Array(held.keys.sorted().suffix(held.count - share))
            try await store.releaseLeases(excess)
            for rack in excess { held[rack] = nil }
            logger.info("rack leases given back", metadata: ["racks": "\(excess.joined(separator: ","))"])
        }
        if held.count < share {
            let candidates = racks.filter { held[$0] == nil }
            let taken = try await store.acquireLeases(candidates, upTo: share - held.count, ttl: ttl)
            held.merge(taken) { $1 }
            self.taken.formUnion(taken.keys)
            if !taken.isEmpty {
                logger.info("rack leases taken", metadata: ["racks": "\(taken.keys.sorted().joined(separator: ","))"])
            }
        }
    }
}

/// Two live reconcilers advertise one address: the later one holds no rack until it gets one of its own.
public struct AddressInUse: Error, Sendable, CustomStringConvertible {
    public var address: String
    public var shard: String
    /// The live member already advertising it.
    public var holder: String

    public var description: String {
        "reconciler '\(holder)' already serves at \(address): give '\(shard)' an --advertise address of its own; "
            + "it holds no rack"
    }
}
