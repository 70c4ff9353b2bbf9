import NIOCore

/// One simulated process (the seed or a peer): `TorrentSession`'s wiring of the engine's parts, with messages
/// handed to the simulator instead of a channel and time from the simulator's virtual clock.
///
/// Each handler follows the session's (TorrentSession+Messages, +Upload) step for step; the decisions are the
/// parts' own: `RequestScheduler`, `Choker`, `SuperSeedOffers`, `PeerTimeouts`, `DialBackoff`, `Announcer`.
final class SimulatedNode {
    /// The world runs every node and outlives them all; `unowned(unsafe)`, because the checked kind cost 10 % of a
    /// 10,000-peer run (a reference-count check on every message sent).
    unowned(unsafe) let world: SwarmSimulator
    let index: Int
    /// Which life of the node this is (a node killed and back is a new process).
    let generation: Int
    let configuration: TorrentConfiguration
    var have: Bitfield
    /// What the node had verified when this life started (resumed pieces).
    let resumed: Bitfield
    var scheduler: RequestScheduler
    var choker: Choker
    var offers: SuperSeedOffers?
    var timeouts = PeerTimeouts()
    var dialer = DialBackoff()
    var rack: RackLocality
    var announcer: Announcer
    var random: SwarmRandom
    var peers: [PeerKey: SimulatedPeer] = [:] { didSet { connectionOrder.invalidate() } }
    var connectionOrder = ConnectionOrder<SimulatedPeer>()
    private var nextKey: UInt64 = 0
    var dialing: Set<Int> = []
    /// Connections we dialled (what `TorrentConfiguration.outgoingLimit` caps).
    private var outgoingCount = 0
    /// Per remote node, connections that count against dialling it again (ours, or handshaken), and those
    /// handshaken: the session's scans over every peer for a duplicate, as counts (the seed sees 10,000 dials).
    private var linked: [Int: Int] = [:]
    private var handshakenWith: [Int: Int] = [:]
    /// Per connection, by its `requestSlot`: where its messages go (what `SwarmSimulator.send` reads), kept by
    /// `linkChanged` whenever a connection's counterpart is set.
    private var links: [Link] = []
    var ticks = 0
    var chokeRounds = 0
    var refetched = 0

    init(world: SwarmSimulator, index: Int, generation: Int, have: Bitfield, configuration: TorrentConfiguration) {
        self.world = world
        self.index = index
        self.generation = generation
        self.configuration = configuration
        self.have = have
        resumed = have
        random = SwarmRandom(seed: configuration.randomSeed ?? 0)
        let file = world.configuration
        let now = world.deadline
        let picker = PiecePicker(
            pieceCount: have.count, pieceLength: file.pieceBytes, totalLength: file.fileBytes,
            requestLength: file.requestBytes)
        scheduler = RequestScheduler(
            picker: picker, minQueue: configuration.minRequestQueue, maxQueue: configuration.maxRequestQueue,
            horizon: configuration.requestHorizon, startedAt: now)
        choker = Choker(regularSlots: configuration.uploadSlots)
        offers = SuperSeedOffers(configuration: configuration, have: have)
        let idle = Int64(max(1, configuration.idleTimeout))
        timeouts.idle = .seconds(idle)
        timeouts.starved = .seconds(idle * 2)
        timeouts.silence = .seconds(idle * 3)
        announcer = Announcer(complete: have.isComplete)
        rack = RackLocality(pieceCount: have.count)
        rack.ownHost = SwarmSimulator.host(index)
    }

    var now: NIODeadline { world.deadline }

    // MARK: Connections

    func addPeer(_ node: Int) {
        guard node != index else { return }
        let target = world.target(node)
        dialer.add(target)
        dial(node)
    }

    func dial(_ node: Int) {
        guard !dialing.contains(node), peers.count + dialing.count < configuration.maxConnections,
            outgoingCount + dialing.count < configuration.outgoingLimit, linked[node] == nil
        else { return }
        dialing.insert(node)
        world.connect(from: self, to: node)
    }

    func dialFailed(_ node: Int) {
        dialing.remove(node)
        dialer.failed(world.target(node), now: now, using: &random)
    }

    /// Admits a connection (as `TorrentSession.connected` does), or refuses it (nil).
    func connected(remote: Int, counterpart: SimulatedPeer?, outgoing: Bool) -> SimulatedPeer? {
        if outgoing { dialing.remove(remote) }
        if peers.count >= configuration.maxConnections {
            let activities = peers.values.filter(\.handshakeReceived).map { ($0.key, $0.activity) }
            guard let idle = timeouts.evictionCandidate(activities, now: now), let victim = peers[idle] else {
                if outgoing { dialer.failed(world.target(remote), now: now, using: &random) }
                return nil
            }
            drop(victim, "idle, making room for a new peer")
        }
        nextKey += 1
        let peer = SimulatedPeer(
            owner: self, key: PeerKey(nextKey), remote: remote, counterpart: counterpart, outgoing: outgoing,
            address: world.target(remote), pieceCount: have.count, now: now)
        peers[peer.key] = peer
        world.everyConnection.append(peer)
        if outgoing {
            linked[remote, default: 0] += 1
            outgoingCount += 1
        }
        peer.requestSlot = scheduler.join(peer.key, now: now)
        linkChanged(peer)
        if outgoing { world.send(.handshake, from: self, to: peer) }
        return peer
    }

    struct Link {
        /// The other end's object (unretained: the world keeps every connection); nil once this end closed.
        var receiver: Unmanaged<SimulatedPeer>?
        var remote: Int
        var latencyClass: Int
    }

    /// Where a message on `peer` goes: its counterpart and remote node, from `links` while it is open (a closed
    /// one's slot may be another's by now), else from the connection itself.
    func link(of peer: SimulatedPeer) -> Link {
        let slot = peer.requestSlot
        if peer.isOpen, slot >= 0, slot < links.count { return links[slot] }
        return currentLink(peer)
    }

    private func currentLink(_ peer: SimulatedPeer) -> Link {
        Link(receiver: peer.counterpart.map { Unmanaged.passUnretained($0) }, remote: peer.remote,
             latencyClass: world.network.latencyClass(index, peer.remote))
    }

    /// Records `peer`'s counterpart and remote end in `links` (on joining, and whenever its counterpart is set).
    func linkChanged(_ peer: SimulatedPeer) {
        let slot = peer.requestSlot
        guard slot >= 0 else { return }
        while links.count <= slot {
            links.append(Link(receiver: nil, remote: -1, latencyClass: 0))
        }
        links[slot] = currentLink(peer)
    }

    func disconnected(_ peer: SimulatedPeer) {
        guard peers.removeValue(forKey: peer.key) != nil else { return }
        peer.isOpen = false
        if peer.inFlow { world.flowNotice(peer) }
        if peer.outgoing { outgoingCount -= 1 }
        if peer.outgoing || peer.handshakeReceived { Self.decrement(&linked, peer.remote) }
        if peer.handshakeReceived { Self.decrement(&handshakenWith, peer.remote) }
        peer.counterpart = nil
        forget(peer)
        for other in peers.values { requestBlocks(other) }
        offerPieces()
        fillUploadSlots()
    }

    private static func decrement(_ counts: inout [Int: Int], _ key: Int) {
        let left = (counts[key] ?? 1) - 1
        counts[key] = left > 0 ? left : nil
    }

    func drop(_ peer: SimulatedPeer, _ reason: String) {
        world.dropped(reason, by: self, peer: peer)
        world.send(.closed, from: self, to: peer)
        disconnected(peer)
    }

    // MARK: Messages in

    /// A message arrived on an open connection; then, as the session's `readComplete` does, keep the pipeline to
    /// this peer full.
    func received(_ message: SimulatedMessage, from peer: SimulatedPeer) {
        handle(message, from: peer)
        if peer.isOpen { requestBlocks(peer) }
    }

    /// One message from `peer`, as the session's `channelRead` takes it.
    func handle(_ message: SimulatedMessage, from peer: SimulatedPeer) {
        peer.activity.lastMessageAt = now
        switch message {
        case .handshake:
            handshake(peer)
        case .closed:
            disconnected(peer)
            return
        case .choke:
            peer.peerChoking = true
            scheduler.release(peer.key)
            peer.updateActivity(now: now)
        case .unchoke:
            peer.peerChoking = false
            peer.updateActivity(now: now)
        case .interested, .notInterested:
            peerInterest(peer, { if case .interested = message { true } else { false } }())
        case .have(let index):
            peerHas(peer, index)
        case .bitfield(let bits):
            setBitfield(peer, bits)
        case .request(let request):
            guard !peer.amChoking else { break }
            peer.incoming.append(request)
            if peer.activity.unchokedUnusedSince != nil { peer.activity.unchokedUnusedSince = now }
            if peer.pendingIncoming == 1 { world.flowReady(self, peer) }
        case .cancel(let request):
            let start = peer.headStarted ? peer.incomingHead + 1 : peer.incomingHead
            if start < peer.incoming.count, let position = peer.incoming[start...].firstIndex(of: request) {
                peer.incoming.remove(at: position)
                if peer.inFlow, peer.pendingIncoming == 0 { world.flowNotice(peer) }
            }
        case .block(let request):
            receivedBlock(request, from: peer)
        }
    }

    private func handshake(_ peer: SimulatedPeer) {
        if handshakenWith[peer.remote] != nil { return drop(peer, "duplicate connection") }
        handshaken(peer)
        handshakenWith[peer.remote, default: 0] += 1
        if !peer.outgoing { linked[peer.remote, default: 0] += 1 }
        if !peer.outgoing { world.send(.handshake, from: self, to: peer) }
        if offers != nil {
            offers?.join(peer.key)
            setChoking(peer, false)
            offerPieces()
        } else if have.setCount > 0 {
            world.send(.bitfield(have), from: self, to: peer)
        }
    }

    // MARK: Downloading

    private func receivedBlock(_ request: BlockRequest, from peer: SimulatedPeer) {
        peer.download.add(Int(request.length))
        if peer.outgoing { dialer.succeeded(peer.address) }
        guard case .accepted(let complete, let cancel) = scheduler.received(request, from: peer.key, now: now)
        else { return }
        let index = Int(request.piece)
        if resumed.contains(index) { refetched += 1 }
        for key in cancel {
            if let other = peers[key] { world.send(.cancel(request), from: self, to: other) }
        }
        if complete { pieceChecked(index) }
    }

    private func pieceChecked(_ index: Int) {
        scheduler.verified(index)
        have.insert(index)
        world.verified(self, piece: index)
        announceVerified(index)
        guard have.isComplete else { return }
        world.finished(self)
        announce(.completed)
        for peer in peers.values where peer.has.isComplete {
            if peer.outgoing { dialer.remove(peer.address) }
            drop(peer, "both seeds")
        }
    }

    func requestBlocks(_ peer: SimulatedPeer) {
        guard peer.isOpen, peer.handshakeReceived, !peer.peerChoking, peer.amInterested else { return }
        for request in pickRequests(peer) { world.send(.request(request), from: self, to: peer) }
    }
}
