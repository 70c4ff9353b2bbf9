import NIOCore

/// Choking, super-seed offers, the per-second tick and the tracker, as `TorrentSession+Upload` does them.
extension SimulatedNode {
    /// A block went out to `peer` (the simulator's flow finished sending it).
    func sent(_ request: BlockRequest, to peer: SimulatedPeer) {
        peer.upload.add(Int(request.length))
        offers?.served(peer.key, piece: Int(request.piece), now: now)
    }

    func candidate(_ peer: SimulatedPeer) -> Choker.Candidate {
        let rate = have.isComplete ? peer.upload.rate : peer.download.rate
        return Choker.Candidate(id: peer.key, interested: peer.peerInterested, choked: peer.amChoking, rate: rate)
    }

    func fillUploadSlots() {
        let candidates = peers.values.filter(\.handshakeReceived).map(candidate)
        for key in choker.fill(candidates) {
            if let peer = peers[key] { setChoking(peer, false) }
        }
    }

    func setChoking(_ peer: SimulatedPeer, _ choking: Bool) {
        guard peer.amChoking != choking else { return }
        peer.amChoking = choking
        if choking { peer.clearIncoming() }
        world.send(choking ? .choke : .unchoke, from: self, to: peer)
        peer.updateActivity(now: now)
    }

    private func chokeRound(rotate: Bool) {
        guard offers == nil else {
            for peer in peers.values where peer.handshakeReceived { setChoking(peer, false) }
            return
        }
        let candidates = peers.values.filter(\.handshakeReceived).map(candidate)
        let unchoke = choker.round(candidates, rotateOptimistic: rotate, using: &random)
        for peer in peers.values where peer.handshakeReceived { setChoking(peer, !unchoke.contains(peer.key)) }
    }

    func offerPieces() {
        guard offers != nil else { return }
        let made =
            offers?.next(
                has: { [peers] key in peers[key]?.has ?? Bitfield(count: 0) },
                availability: scheduler.picker.availability, now: now, using: &random) ?? []
        for offer in made {
            if let peer = peers[offer.peer] { world.send(.have(offer.piece), from: self, to: peer) }
        }
    }

    /// The session's one-second tick.
    func tick() {
        ticks += 1
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
                peer.activity.lastSentAt = now
            case .keep:
                requestBlocks(peer)
            }
        }
        _ = offers?.expire(now: now)
        offerPieces()
        if ticks % configuration.chokeInterval == 0 {
            chokeRounds += 1
            chokeRound(rotate: chokeRounds % configuration.optimisticEveryRounds == 0)
        }
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
