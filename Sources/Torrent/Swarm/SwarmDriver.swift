import NIOCore

/// One connection's protocol state: what the engine's wiring reads and sets, with or without a channel.
///
/// `Peer` (a connection on a channel) and `SimulatedPeer` (one in `reconcile dev swarm-sim`) both are one, so
/// that `SwarmDriver`'s choking, interest and timeout logic is written once and the simulator cannot drift from
/// the engine. What `announceVerified` reads of every connection for every piece comes first, next to the object's
/// header, so that visiting a connection costs one cache line (a simulated node has ~80, the simulator 10,000 nodes).
class PeerState {
    var handshakeReceived = false
    /// It said `interested` at some point: it lacks pieces, so it is no super-seed (see `announceVerified`).
    var saidInterested = false
    var amInterested = false
    var amChoking = true
    var peerChoking = true
    var peerInterested = false
    /// False once the driver closed the connection (it left `peers`).
    var isOpen = true
    var has: Bitfield
    /// Pieces it has that we lack (decides our interest).
    var interesting = 0
    /// The slot of its books in the `RequestScheduler` (what `join` returned), so that a pick skips a lookup.
    var requestSlot = -1
    /// In our rack (`RackLocality`): its pieces count as the rack's, and it is asked for anything.
    var sameRack = false

    let key: PeerKey
    let outgoing: Bool
    /// `host:port` we dialled, or the remote address for incoming peers (what `DialBackoff` knows it by).
    let address: String
    /// The remote IP address.
    let host: String
    /// Requests the peer sent us, served in order.
    var incoming: [BlockRequest] = []
    var incomingHead = 0

    var download = RateMeter()
    var upload = RateMeter()
    /// What the timeout checks look at.
    var activity: PeerTimeouts.Activity

    init(key: PeerKey, outgoing: Bool, address: String, host: String, pieceCount: Int, now: NIODeadline) {
        self.key = key
        self.outgoing = outgoing
        self.address = address
        self.host = host
        has = Bitfield(count: pieceCount)
        activity = PeerTimeouts.Activity(
            connectedAt: now, handshaken: false, lastMessageAt: now, lastSentAt: now, idleSince: now,
            unchokedUnusedSince: nil, starvedSince: nil, requestsStalled: false)
    }

    var pendingIncoming: Int { incoming.count - incomingHead }

    /// Forgets the requests it sent us (we choked it).
    func clearIncoming() {
        incoming.removeAll()
        incomingHead = 0
    }

    /// Recomputes the interest-based timers after any change of choke or interest state.
    func updateActivity(now: NIODeadline) {
        activity.update(
            amChoking: amChoking, amInterested: amInterested, peerChoking: peerChoking,
            peerInterested: peerInterested, now: now)
    }
}

/// A peer-wire message the shared wiring sends; each driver puts it on its own wire.
enum DriverSignal {
    case choke, unchoke, interested, notInterested, keepAlive
    case have(Int)
}

/// A driver's connections in the order of its `peers` dictionary, as one array: the loops that visit every
/// connection for every verified piece walk it instead of the dictionary. Rebuilt when `peers` changed (the
/// driver calls `invalidate` from `peers`' `didSet`), so the order, and with it every message's order, stays the
/// dictionary's. A local copy of `list` keeps every connection alive while a loop runs, so a connection the loop
/// drops stays valid until the loop ends, as with a copy of the dictionary.
struct ConnectionOrder<Connection: PeerState> {
    private(set) var list: ContiguousArray<Connection> = []
    private var stale = true

    mutating func invalidate() { stale = true }

    mutating func current(_ peers: [PeerKey: Connection]) -> ContiguousArray<Connection> {
        if stale {
            list = ContiguousArray(peers.values)
            stale = false
        }
        return list
    }
}

/// The wiring between connections and the parts that decide, shared by `TorrentSession` and the simulator's
/// `SimulatedNode`: choking and upload slots, super-seed offers, interest, a peer's bitfield, and the per-second
/// checks. Each driver supplies its clock, its wire (`signal`), dropping a peer and asking it for blocks.
protocol SwarmDriver: AnyObject {
    associatedtype Connection: PeerState
    var peers: [PeerKey: Connection] { get }
    /// `peers` as an array in the same order (`ConnectionOrder`); the driver invalidates it when `peers` changes.
    var connectionOrder: ConnectionOrder<Connection> { get set }
    var have: Bitfield { get }
    var configuration: TorrentConfiguration { get }
    var scheduler: RequestScheduler { get set }
    var choker: Choker { get set }
    var offers: SuperSeedOffers? { get set }
    var timeouts: PeerTimeouts { get }
    var dialer: DialBackoff { get set }
    var rack: RackLocality { get set }
    var random: SwarmRandom { get set }
    var chokeRounds: Int { get set }
    var ticks: Int { get set }
    /// The driver's clock (wall or virtual).
    var currentTime: NIODeadline { get }
    func signal(_ signal: DriverSignal, to peer: Connection)
    func drop(_ peer: Connection, _ reason: String)
    func requestBlocks(_ peer: Connection)
}

extension SwarmDriver {
    func candidate(_ peer: Connection) -> Choker.Candidate {
        let rate = have.isComplete ? peer.upload.rate : peer.download.rate
        return Choker.Candidate(
            id: peer.key, interested: peer.peerInterested, choked: peer.amChoking, rate: rate,
            pieces: peer.has.setCount, sameRack: peer.sameRack && rackPreferred)
    }

    /// Unchokes waiting interested peers when a slot is free (see `Choker.fill`), rack peers first while the rack
    /// rule is on.
    func fillUploadSlots() {
        for key in choker.fill(rackFirst: rackPreferred, inRack: { peers[$0]?.sameRack == true }) {
            if let peer = peers[key] { setChoking(peer, false) }
        }
    }

    /// Whether traffic is kept to the rack where it can be (`RackLocality`): the tracker named our rack, and the
    /// configuration prefers it (or the tracker asks for it).
    var rackPreferred: Bool { rack.keep || (configuration.rackPreference && rack.isActive) }

    /// The tracker named these hosts as our rack (and asks to keep traffic in it, or not): connections to them
    /// become rack peers.
    func learnRack(_ hosts: some Sequence<String>, keep: Bool) {
        let keepChanged = rack.keep != keep
        rack.keep = keep
        guard rack.learn(hosts) || keepChanged else { return }
        for peer in peers.values where peer.handshakeReceived && !peer.sameRack { joinRack(peer) }
    }

    private func joinRack(_ peer: Connection) {
        guard rack.isLocal(host: peer.host, outgoing: peer.outgoing) else { return }
        peer.sameRack = true
        rack.member(peer.host, has: peer.has, joined: true)
    }

    /// The requests to send `peer` now (the scheduler's picks of what it has). A peer outside our rack is asked
    /// for what `RackLocality` lets in, this node's share first. A seed (a peer that never said `interested`; a
    /// super-seed's offers are what feed the swarm) then for any piece the rack lacks. Another rack's node for the
    /// share and the pieces already started, and any piece the rack lacks only while no piece is in progress: the
    /// rack's other members import theirs meanwhile (taking them as soon as our share was fetched brought each
    /// piece into a rack several times over).
    func pickRequests(_ peer: Connection) -> [BlockRequest] {
        guard rackPreferred, !peer.sameRack else { return requests(peer, peer.has) }
        var (share, importable) = rack.importable(from: peer.has)
        guard peer.saidInterested else {
            let picks = requests(peer, share)
            return picks.isEmpty && share != importable ? requests(peer, importable) : picks
        }
        if scheduler.picker.partials.isEmpty {
            share = importable
        } else {
            for index in scheduler.picker.partials.keys where importable.contains(index) { share.insert(index) }
        }
        return requests(peer, share)
    }

    private func requests(_ peer: Connection, _ allowed: Bitfield) -> [BlockRequest] {
        scheduler.requests(
            for: peer.key, slot: peer.requestSlot, peerHas: allowed, have: have, now: currentTime, using: &random)
    }

    /// The peer's `have` of a piece.
    func peerHas(_ peer: Connection, _ index: Int) {
        guard peer.has.insert(index) else { return }
        scheduler.peerHas(index)
        if peer.sameRack { rack.add(index) }
        if !have.contains(index) { peer.interesting += 1 }
        updateInterest(peer)
        if offers?.peerHas(peer.key, index) == true { offerPieces() }
    }

    /// Tells the choker a peer's handshake, interest or choking changed.
    func noteSlots(_ peer: Connection) {
        choker.update(
            peer.key, handshaken: peer.handshakeReceived, interested: peer.peerInterested, choked: peer.amChoking)
    }

    /// The peer's handshake arrived.
    func handshaken(_ peer: Connection) {
        peer.handshakeReceived = true
        peer.activity.handshaken = true
        joinRack(peer)
        noteSlots(peer)
    }

    /// The peer said `interested` or `not interested`.
    func peerInterest(_ peer: Connection, _ interested: Bool) {
        peer.peerInterested = interested
        if interested { peer.saidInterested = true }
        peer.updateActivity(now: currentTime)
        noteSlots(peer)
        fillUploadSlots()
        guard interested, offers == nil, peer.amChoking, peer.handshakeReceived else { return }
        let admitted = choker.admitBehind(peer.key, pieces: peer.has.setCount) { peers[$0]?.has.setCount }
        if admitted { setChoking(peer, false) }
    }

    /// What every part forgets of a peer whose connection closed (the driver has removed it from `peers`).
    func forget(_ peer: Connection) {
        offers?.leave(peer.key)
        scheduler.leave(peer.key, had: peer.has)
        if peer.sameRack { rack.member(peer.host, has: peer.has, joined: false) }
        choker.forget(peer.key)
        if peer.outgoing { dialer.failed(peer.address, now: currentTime, using: &random) }
    }

    func setChoking(_ peer: Connection, _ choking: Bool) {
        guard peer.amChoking != choking else { return }
        peer.amChoking = choking
        if choking { peer.clearIncoming() }
        noteSlots(peer)
        signal(choking ? .choke : .unchoke, to: peer)
        peer.updateActivity(now: currentTime)
    }

    func chokeRound(rotate: Bool) {
        guard offers == nil else {
            for peer in peers.values where peer.handshakeReceived { setChoking(peer, false) }
            return
        }
        let candidates = peers.values.filter(\.handshakeReceived).map(candidate)
        let unchoke = choker.round(candidates, rotateOptimistic: rotate, using: &random)
        for peer in peers.values where peer.handshakeReceived { setChoking(peer, !unchoke.contains(peer.key)) }
    }

    /// Super-seeding: sends the offers `SuperSeedOffers` makes. Called on every event that frees an offer, and
    /// when a peer's copy goes away.
    func offerPieces() {
        guard offers != nil else { return }
        let made =
            offers?.next(
                has: { [peers] key in peers[key]?.has ?? Bitfield(count: 0) },
                availability: scheduler.picker.availability, now: currentTime, using: &random) ?? []
        for offer in made {
            if let peer = peers[offer.peer] { signal(.have(offer.piece), to: peer) }
        }
    }

    /// We verified piece `index`: peers that have it lose a reason for our interest, and the others hear of it.
    ///
    /// Have-suppression: no `have` to a peer that has the piece and once said `interested`. It would change nothing
    /// it decides (its interest and its rarest-first counts are about pieces it lacks), and at scale the `have`s
    /// are most of the messages (a piece to each of ~80 connections). A peer that never said `interested` hears of
    /// every piece: it may be a super-seed (BEP 16), which shows its offers as `have`s, so it appears to hold
    /// them, and counts our `have` of an offered piece as that offer delivered. The wire is unchanged (fewer of
    /// one message); the cost is that two peers that both end complete may not see each other complete, so they
    /// part on the idle timeout (neither interested) instead of at once as `both seeds`.
    ///
    /// Two passes: the first only reads, for every connection, whether it is handshaken and has the piece, with no
    /// branch on the answer, so the processor fetches the ~80 connections' lines side by side; the second acts on
    /// them in the same order. (One pass stalled on two cache misses per connection at 10,000 simulated nodes.)
    func announceVerified(_ index: Int) {
        let connections = connectionOrder.current(peers)
        let redundant = configuration.redundantHaves
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: connections.count) { holds in
            for (position, peer) in connections.enumerated() {
                let handshaken: UInt8 = peer.handshakeReceived ? 1 : 0
                let has: UInt8 = peer.has.contains(index) ? 2 : 0
                holds[position] = handshaken | has
            }
            // `connections` holds them all: borrowed unretained (a retain per connection and piece cost 5 %).
            for position in connections.indices where holds[position] & 1 != 0 {
                Unmanaged.passUnretained(connections[position])._withUnsafeGuaranteedRef { peer in
                    if holds[position] & 2 != 0 {
                        peer.interesting -= 1
                        if peer.interesting <= 0 || !peer.amInterested { updateInterest(peer) }
                        if peer.saidInterested, !redundant { return }
                    }
                    signal(.have(index), to: peer)
                }
            }
        }
    }

    func updateInterest(_ peer: Connection) {
        let interesting = peer.interesting > 0
        guard interesting != peer.amInterested else { return }
        peer.amInterested = interesting
        signal(interesting ? .interested : .notInterested, to: peer)
        peer.updateActivity(now: currentTime)
    }

    /// The peer's bitfield: its pieces, our interest, and no connection between two seeds.
    func setBitfield(_ peer: Connection, _ bits: Bitfield) {
        offers?.peerBitfield(peer.key, bits)
        scheduler.peerBitfield(from: peer.has, to: bits)
        if peer.sameRack { rack.replace(peer.has, with: bits) }
        peer.has = bits
        peer.interesting = bits.countMissing(from: have)
        if bits.isComplete, have.isComplete {
            if peer.outgoing { dialer.remove(peer.address) }
            return drop(peer, "both seeds")
        }
        updateInterest(peer)
        offerPieces()
    }

    /// The per-second checks: rates, pipeline depth, timeouts, expired offers and, every `chokeInterval`, a round.
    func tickPeers() {
        ticks += 1
        let now = currentTime
        for peer in Array(peers.values) where peers[peer.key] != nil {
            peer.download.tick()
            peer.upload.tick()
            scheduler.adapt(peer.key, rate: peer.download.rate)
            peer.activity.requestsStalled = scheduler.isStalled(peer.key, now: now, timeout: .seconds(30))
            switch timeouts.verdict(peer.activity, now: now) {
            case .drop(let reason):
                drop(peer, reason)
            case .choke:
                setChoking(peer, true)
                fillUploadSlots()
            case .sendKeepAlive:
                signal(.keepAlive, to: peer)
                peer.activity.lastSentAt = now
            case .keep:
                requestBlocks(peer)
            }
        }
        // Every second, not only when an offer ends: a peer left waiting may now be owed pieces others hold.
        _ = offers?.expire(now: now)
        offerPieces()
        if ticks % configuration.chokeInterval == 0 {
            chokeRounds += 1
            chokeRound(rotate: chokeRounds % configuration.optimisticEveryRounds == 0)
        }
    }
}
