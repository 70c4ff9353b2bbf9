import NIOCore

/// The simulated node drives its peers with the session's own wiring (`SwarmDriver`).
extension SimulatedNode: SwarmDriver {
    var currentTime: NIODeadline { world.deadline }

    func signal(_ signal: DriverSignal, to peer: SimulatedPeer) {
        switch signal {
        case .choke: world.send(.choke, from: self, to: peer)
        case .unchoke: world.send(.unchoke, from: self, to: peer)
        case .interested: world.send(.interested, from: self, to: peer)
        case .notInterested: world.send(.notInterested, from: self, to: peer)
        case .keepAlive: break
        case .have(let piece): world.send(.have(piece), from: self, to: peer)
        }
    }
}

/// Blocks out, the per-second tick, redials and the tracker, as `TorrentSession+Upload` does them.
extension SimulatedNode {
    /// A block went out to `peer` (the simulator's flow finished sending it).
    func sent(_ request: BlockRequest, to peer: SimulatedPeer) {
        peer.upload.add(Int(request.length))
        offers?.served(peer.key, piece: Int(request.piece), now: now)
    }

    /// The session's one-second tick.
    func tick() {
        tickPeers()
        if announcer.isDue(now: now) { announce(nil) }
    }

    /// The session's quarter-second redial timer.
    func redial() {
        for target in dialer.due(now: now) {
            if let node = world.node(forTarget: target) { dial(node) }
        }
    }

    func announce(_ event: AnnounceRequest.Event?) {
        guard announcer.begin(event) else { return }
        world.announce(self, event: event)
    }

    /// The tracker answered (nil: the announce failed).
    func announced(_ peersFound: [Int]?, interval: Int?) {
        let sendCompleted = announcer.finished(interval: interval, now: now)
        if sendCompleted { announce(.completed) }
        for node in peersFound ?? [] where !have.isComplete { addPeer(node) }
    }
}
