/// With SWARM_SIM_CENSUS set: what every peer is doing, every `censusEvery` virtual seconds, on stderr, to find
/// why the swarm runs below its bound. Reads the nodes and flows only; changes nothing.
extension SwarmSimulator {
    /// One census line: peers by download state, uploaders by upload state, utilisation and connections.
    ///
    /// Download states of an unfinished, started peer: `dl` a flow brings it data; `unchoked` an interesting
    /// connection unchokes it but no data moves (requests on their way); `choked` it is interested only in
    /// connections that choke it; `nothing` no connection has a piece it lacks. Upload states of a peer (seed
    /// excluded) with pieces: `up` it sends; `idle-choked-all` interested peers wait but none is unchoked (should
    /// not happen); `idle-no-requests` it unchokes interested peers that ask for nothing yet; `idle-uninteresting`
    /// no connection wants anything it has.
    func census() {
        let count = nodes.count
        var inRate = [Double](repeating: 0, count: count)
        var outRate = [Double](repeating: 0, count: count)
        if flowRates.count == flows.count {
            for (position, flow) in flows.enumerated() {
                outRate[flow.node.index] += flowRates[position]
                inRate[flow.peer.remote] += flowRates[position]
            }
        }
        var downloading = 0, unchoked = 0, choked = 0, nothing = 0, started = 0, holding = 0
        var uploading = 0, idleUninteresting = 0, idleNoRequests = 0, idleChoked = 0
        var connections = 0, live = 0, serving = 0, waiting = 0
        var peerUpload = 0.0
        var inProgress = 0, lacking = 0
        for index in 1..<count {
            guard let node = nodes[index] else { continue }
            live += 1
            connections += node.peers.count
            serving += node.choker.serving.count
            waiting += node.choker.waiting.count
            peerUpload += outRate[index]
            if node.have.setCount > 0 {
                holding += 1
                if outRate[index] > 0 {
                    uploading += 1
                } else if node.choker.serving.isEmpty, !node.choker.waiting.isEmpty {
                    idleChoked += 1
                } else if !node.choker.serving.isEmpty {
                    idleNoRequests += 1
                } else {
                    idleUninteresting += 1
                }
            }
            guard finishedAt[index] == nil else { continue }
            started += 1
            inProgress += node.scheduler.picker.partials.count
            lacking += node.have.count - node.have.setCount
            if inRate[index] > 0 {
                downloading += 1
                continue
            }
            var interested = false
            var open = false
            for peer in node.peers.values where peer.amInterested {
                interested = true
                if !peer.peerChoking { open = true }
            }
            if open { unchoked += 1 } else if interested { choked += 1 } else { nothing += 1 }
        }
        // Idle uploaders' served peers: why does the peer not ask?
        var pairs = 0, notInterested = 0, seesChoked = 0, queuedThere = 0, allInProgress = 0, otherReason = 0
        for index in 1..<count {
            guard let node = nodes[index], node.have.setCount > 0, outRate[index] == 0 else { continue }
            for key in node.choker.serving {
                guard let conn = node.peers[key], let remote = conn.counterpart,
                    let downloader = nodes[conn.remote], downloader.generation == generations[conn.remote]
                else { continue }
                pairs += 1
                let queued = downloader.scheduler.books(of: remote.key)?.queued ?? 0
                if !remote.amInterested {
                    notInterested += 1
                } else if remote.peerChoking {
                    seesChoked += 1
                } else if queued > 0 {
                    queuedThere += 1
                } else {
                    var fresh = node.have
                    fresh.subtract(downloader.have)
                    var free = 0
                    fresh.forEach { piece in if downloader.scheduler.picker.partials[piece] == nil { free += 1 } }
                    if free == 0 { allInProgress += 1 } else { otherReason += 1 }
                }
            }
        }
        let why = "idle pairs \(pairs): not-interested \(notInterested) sees-choked \(seesChoked) "
            + "queued \(queuedThere) all-in-progress \(allInProgress) other \(otherReason); "
        let capacity = Double(max(1, live)) * configuration.nodeRate
        let seedShare = outRate[0] / configuration.seedRate
        let line = "census t \(Self.fixed(now)) s: done \(configuration.peers - unfinished), holding \(holding); "
            + "down: dl \(downloading) unchoked \(unchoked) choked \(choked) nothing \(nothing) of \(started); "
            + "up: sending \(uploading) uninteresting \(idleUninteresting) no-requests \(idleNoRequests) "
            + "choked-all \(idleChoked); in progress/peer \(inProgress / max(1, started)) "
            + "lacking/peer \(lacking / max(1, started)); " + why + "peer upload \(Self.fixed(peerUpload / capacity)), "
            + "seed \(Self.fixed(seedShare)); conns/peer \(Self.fixed(Double(connections) / Double(max(1, live)))), "
            + "serving/peer \(Self.fixed(Double(serving) / Double(max(1, live)))), "
            + "waiting/peer \(Self.fixed(Double(waiting) / Double(max(1, live)))), flows \(flows.count)\n"
        Self.diagnostic(line)
    }

    /// The seed's offers by where each is in its cycle (`SWARM_SIM_TRACE`): `sending` the peer's requests are queued
    /// at the seed (a flow, or about to be one); `requested` the peer asked and the request is on its way; `offered`
    /// the offer's `have` is on its way (the peer is not interested yet); `done` the peer has the piece and its
    /// `have` is on its way back. Every state but `sending` leaves that offer's share of the seed's upload idle.
    func seedOfferStates() -> String {
        var sending = 0, requested = 0, offered = 0, done = 0
        if let seed = nodes[0], let offers = seed.offers {
            for (key, holder) in offers.holders where !holder.offered.isEmpty {
                guard let connection = seed.peers[key] else { continue }
                if connection.pendingIncoming > 0 {
                    sending += 1
                    continue
                }
                guard let remote = connection.counterpart, let leecher = nodes[connection.remote] else { continue }
                if holder.offered.keys.allSatisfy({ leecher.have.contains($0) }) {
                    done += 1
                } else if !remote.amInterested {
                    offered += 1
                } else if (leecher.scheduler.books(of: remote.key)?.queued ?? 0) > 0 {
                    requested += 1
                }
            }
        }
        return "holders sending \(sending), requested \(requested), offered \(offered), done \(done)"
    }

    private static func fixed(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return "\(scaled)"
    }
}
