/// Block data as flows, churn, and the run's result.
extension SwarmSimulator {
    /// Keeps the flows that can still send: uploader alive, connection open and unchoked, requests queued.
    func pruneFlows() {
        let before = flows.count
        flows.removeAll { flow in
            unowned(unsafe) let peer = flow.peer
            let keep = peer.isOpen && !peer.amChoking && peer.pendingIncoming > 0
            if !keep { peer.inFlow = false }
            return !keep
        }
        if flows.count != before { flowsChanged = true }
    }

    /// Moves `interval` seconds of data along every flow at its fair rate; hands finished blocks to the network.
    ///
    /// Rates are recomputed only when the set of flows changed since the last step (max-min fair shares depend on
    /// nothing else).
    func moveData(over interval: Double) {
        guard !flows.isEmpty else { return }
        if flowsChanged || flowRates.count != flows.count {
            var paths = FlowPaths()
            for flow in flows { network.appendPath(from: flow.node.index, to: flow.peer.remote, to: &paths) }
            flowRates = FairShare.rates(paths, capacities: network.capacities)
            flowsChanged = false
            rateComputations += 1
            if debugTrace { trace(flows.map { $0.node.index }, flowRates, flows: flows.count) }
        }
        // `flows` holds its connections and nodes while this runs (nothing here adds or removes a flow), so the
        // loop borrows them unretained.
        for position in flows.indices {
            let rate = flowRates[position]
            guard rate > 0 else { continue }
            unowned(unsafe) let node = flows[position].node
            unowned(unsafe) let peer = flows[position].peer
            var budget = rate * interval
            var sentAt = now
            while budget > 0, let request = peer.nextIncoming {
                let need = Double(request.length) - peer.headSent
                guard budget >= need else {
                    peer.headSent += budget
                    break
                }
                budget -= need
                sentAt += need / rate
                peer.popIncoming()
                deliver(request, from: node, to: peer, at: sentAt)
            }
        }
    }

    private func deliver(_ request: BlockRequest, from node: SimulatedNode, to peer: SimulatedPeer, at time: Double) {
        let bytes = Int64(request.length)
        node.sent(request, to: peer)
        if node.index == 0 {
            seedEgress += bytes
            seedLastByte = time
        }
        if network.crossesCore(node.index, peer.remote) {
            if let rack = network.rack(of: node.index) { uplinkBytes[rack] += bytes }
            if let rack = network.rack(of: peer.remote) { uplinkBytes[rack] += bytes }
        }
        guard let receiver = peer.counterpart else { return }
        queue.push(at: time + network.latency(node.index, peer.remote), .message(receiver, .block(request)))
    }

    /// With SWARM_SIM_TRACE set: the seed's flows, rate and offers out, and all flows, every 250 ms (stderr).
    private func trace(_ uploaders: [Int], _ rates: [Double], flows: Int) {
        var seedFlows = 0
        var seedRate = 0.0
        for (position, uploader) in uploaders.enumerated() where uploader == 0 {
            seedFlows += 1
            seedRate += rates[position]
        }
        let offers = nodes[0]?.offers?.holders.values.reduce(0) { $0 + $1.offered.count } ?? 0
        let line = "t \(Int(now * 1000)) ms: seed flows \(seedFlows) at \(Int(seedRate)) B/s, offers \(offers); "
            + "flows \(flows)\n"
        Self.diagnostic(line)
    }

    // MARK: Churn

    /// Picks `churn · N` peers to kill at random times within the bound, a `churnReturn` share of them to return.
    func scheduleChurn() {
        let count = Int((configuration.churn * Double(configuration.peers)).rounded())
        guard count > 0 else { return }
        var victims = Array(1...configuration.peers)
        victims.shuffle(using: &churnRandom)
        let returning = Int((configuration.churnReturn * Double(count)).rounded())
        let bound = configuration.boundP2P()
        for (position, index) in victims.prefix(count).enumerated() {
            let at = Double.random(in: 0.1...0.7, using: &churnRandom) * bound
            let returns = position < returning
            if returns { pendingReturns += 1 }
            queue.push(at: at, .kill(index, returns: returns))
        }
    }

    /// SIGKILL: every connection closes, partial pieces are lost, verified ones stay on disk.
    func kill(_ index: Int, returns: Bool) {
        guard let node = nodes[index], finishedAt[index] == nil else {
            if returns { pendingReturns -= 1 }
            return
        }
        killed += 1
        for peer in node.peers.values {
            peer.isOpen = false
            if let receiver = peer.counterpart {
                queue.push(at: now + network.latency(index, peer.remote), .message(receiver, .closed))
            }
            peer.counterpart = nil
        }
        duplicateBlocks += node.scheduler.statistics.duplicateBlocks
        refetched += node.refetched
        savedHave[index] = node.have
        nodes[index] = nil
        if returns {
            queue.push(at: now + configuration.churnDelay, .revive(index))
        } else {
            goneForGood.insert(index)
            unfinished -= 1
        }
    }

    // MARK: Result

    func result() -> SwarmSimulation.Result {
        var duplicates = duplicateBlocks
        var refetchedBlocks = refetched
        for node in nodes.dropFirst().compactMap({ $0 }) {
            duplicates += node.scheduler.statistics.duplicateBlocks
            refetchedBlocks += node.refetched
        }
        let times = (1..<nodes.count).map { goneForGood.contains($0) ? nil : finishedAt[$0] }
        let done = times.compactMap { $0 }
        let file = Double(configuration.fileBytes)
        let survivors = configuration.peers - goneForGood.count
        return SwarmSimulation.Result(
            makespan: done.max() ?? 0, p50: SwarmSimulation.percentile(done, 0.5),
            p99: SwarmSimulation.percentile(done, 0.99), boundP2P: configuration.boundP2P(),
            boundSurvivors: configuration.boundP2P(peers: survivors), seedEgressOverF: Double(seedEgress) / file,
            uplinkBytesOverF: uplinkBytes.map { Double($0) / file }, duplicateBlocks: duplicates,
            refetchedVerifiedBlocks: refetchedBlocks, nodeTimes: times, survivors: survivors, finished: done.count,
            killed: killed, returned: returned, drops: drops, longestIdle: longestIdle, seedLastByte: seedLastByte,
            haves: haves, events: eventCount, steps: steps)
    }
}
