/// Block data as flows, churn, and the run's result.
extension SwarmSimulator {
    /// A connection with requests queued at an unchoked uploader, and how far its first request has gone.
    ///
    /// The bytes sent of the first request live here, not in the connection, so that a step that only moves bytes
    /// along (most steps: a 1 MiB block takes ~13 steps of 10 ms) reads and writes this array alone, not the
    /// connection's object and request queue (two cache misses per flow per step at 10,000 peers).
    struct Flow {
        /// Unretained: the world keeps every node and connection (`everyConnection`).
        unowned(unsafe) let node: SimulatedNode
        unowned(unsafe) let peer: SimulatedPeer
        /// The connection's identity (what `flowNotices` holds), read without touching it.
        let id: ObjectIdentifier
        /// The length of the connection's first request once part of it is sent (0: not started, read the queue).
        var headLength = 0.0
        var headSent = 0.0
        /// `moveData` emptied its queue: `pruneFlows` looks at it.
        var drained = false
        /// The moment from which it can send in the next `moveData`: the end of the last step while it has
        /// requests; when it ran dry, its last byte; when it (or its queue again) became ready mid-step, that
        /// moment. It is never later than the next step's start, since a step's events come after its data.
        var from: Double
    }

    /// A flow's connection closed, was choked or lost its last request outside `moveData`: `pruneFlows` looks at it
    /// (and forgets its first request's progress: a choke dropped that request).
    func flowNotice(_ peer: SimulatedPeer) { flowNotices.insert(ObjectIdentifier(peer)) }

    /// Keeps the flows that can still send: uploader alive, connection open and unchoked, requests queued.
    ///
    /// Only a flow noticed (`flowNotice`) or drained can have stopped: every other one was kept, or added, with all
    /// three true, and each way to make one false notices it. So only those are looked at; the rest keep their order.
    func pruneFlows() {
        guard !flowNotices.isEmpty || drainedFlows > 0 else { return }
        let before = flows.count
        var kept = 0
        // A stable partition by swaps (no copies): the flows before `kept` stay, in their order.
        for position in flows.indices {
            let noticed = !flowNotices.isEmpty && flowNotices.contains(flows[position].id)
            if noticed || flows[position].drained {
                unowned(unsafe) let peer = flows[position].peer
                guard peer.isOpen, !peer.amChoking, peer.pendingIncoming > 0 else {
                    peer.inFlow = false
                    continue
                }
                flows[position].drained = false
                if noticed { (flows[position].headLength, flows[position].headSent) = (0, 0) }
                // Refilled after it ran dry (or was choked and asked again): it sends from then on.
                flows[position].from = max(flows[position].from, peer.readySince)
            }
            if kept != position { flows.swapAt(kept, position) }
            kept += 1
        }
        flows.removeLast(before - kept)
        flowNotices.removeAll(keepingCapacity: true)
        drainedFlows = 0
        if flows.count != before { flowsChanged = true }
    }

    /// Moves data along every flow at its fair rate, from the moment it could send (`Flow.from`) to `end`, the end
    /// of this step; hands finished blocks to the network, each at the moment its last byte left.
    ///
    /// Rates are recomputed only when the set of flows changed since the last step (max-min fair shares, and
    /// window-limited ones, depend on nothing else), once per step, for the flows ready at its start. So a flow that
    /// became ready during the last step (its first request arrived) sends from that moment at this step's rate:
    /// between then and the step's start it has the share that a flow which ran dry left (a seed's next offer takes
    /// the last one's), or more than the link had, by at most a step's worth of its rate. A flow's data in a step
    /// moves before the step's events: a choke or a death mid-step stops it at the step's end.
    func moveData(until end: Double) {
        guard !flows.isEmpty else { return }
        if flowsChanged || flowRates.count != flows.count {
            var paths = FlowPaths()
            for flow in flows { network.appendPath(from: flow.node.index, to: flow.peer.remote, to: &paths) }
            switch configuration.sharing {
            case .maxMin:
                flowRates = FairShare.rates(paths, capacities: network.capacities)
            case .window:
                var acks = FlowPaths()
                for flow in flows { network.appendPath(from: flow.peer.remote, to: flow.node.index, to: &acks) }
                let solved = WindowShare.rates(
                    paths, acks: acks, capacities: network.capacities, prices: &windowPrices)
                flowRates = solved.rates
                if solved.rounds >= WindowShare.maxRounds {
                    Self.diagnostic("t \(Int(now * 1000)) ms: window rates not settled in \(solved.rounds) rounds\n")
                }
            }
            flowsChanged = false
            rateComputations += 1
            if debugTrace { trace(flows.map { $0.node.index }, flowRates, flows: flows.count) }
        }
        // `flows` holds its connections and nodes while this runs (nothing here adds or removes a flow), so the
        // loop borrows them unretained.
        for position in flows.indices {
            let rate = flowRates[position]
            let from = flows[position].from
            flows[position].from = end
            guard rate > 0 else { continue }
            var budget = rate * (end - from)
            // A started request that this step does not finish: the flow's own numbers only.
            let length = flows[position].headLength
            if length > 0, budget < length - flows[position].headSent {
                flows[position].headSent += budget
                continue
            }
            unowned(unsafe) let node = flows[position].node
            unowned(unsafe) let peer = flows[position].peer
            var sent = flows[position].headSent
            var sentAt = from
            while budget > 0, let request = peer.nextIncoming {
                let need = Double(request.length) - sent
                guard budget >= need else {
                    sent += budget
                    flows[position].headLength = Double(request.length)
                    flows[position].headSent = sent
                    peer.headStarted = true
                    break
                }
                budget -= need
                sentAt += need / rate
                peer.popIncoming()
                sent = 0
                flows[position].headLength = 0
                flows[position].headSent = 0
                deliver(request, from: node, to: peer, at: sentAt)
            }
            if peer.pendingIncoming == 0 {
                flows[position].from = sentAt
                if !flows[position].drained {
                    flows[position].drained = true
                    drainedFlows += 1
                }
            }
        }
    }

    private func deliver(_ request: BlockRequest, from node: SimulatedNode, to peer: SimulatedPeer, at time: Double) {
        let bytes = Int64(request.length)
        node.sent(request, to: peer)
        if node.index == 0 {
            seedEgress += bytes
            seedLastByte = max(seedLastByte, time)
        }
        if network.crossesCore(node.index, peer.remote) {
            if let rack = network.rack(of: node.index) { uplinkBytes[rack] += bytes }
            if let rack = network.rack(of: peer.remote) { uplinkBytes[rack] += bytes }
        }
        guard let receiver = peer.counterpart else { return }
        queue.push(at: time + network.latency(node.index, peer.remote), .message(receiver, .block(request)))
    }

    /// With SWARM_SIM_TRACE set: the seed's flows, rate and offers out (and where its holders are in the offer's
    /// cycle, `seedOfferStates`), and all flows, whenever the rates are recomputed (stderr).
    private func trace(_ uploaders: [Int], _ rates: [Double], flows: Int) {
        var seedFlows = 0
        var seedRate = 0.0
        for (position, uploader) in uploaders.enumerated() where uploader == 0 {
            seedFlows += 1
            seedRate += rates[position]
        }
        let offers = nodes[0]?.offers?.holders.values.reduce(0) { $0 + $1.offered.count } ?? 0
        let line = "t \(Int(now * 1000)) ms: seed flows \(seedFlows) at \(Int(seedRate)) B/s, offers \(offers) "
            + "(\(seedOfferStates())); flows \(flows)\n"
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
            if peer.inFlow { flowNotice(peer) }
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
            let back = now + configuration.churnDelay
            returnBound = max(returnBound, back + configuration.lackingBytes(node.have) / configuration.nodeRate)
            queue.push(at: back, .revive(index))
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
            boundSurvivors: max(configuration.boundP2P(peers: survivors), returnBound),
            boundSurvivorsP2P: configuration.boundP2P(peers: survivors), seedEgressOverF: Double(seedEgress) / file,
            uplinkBytesOverF: uplinkBytes.map { Double($0) / file }, duplicateBlocks: duplicates,
            refetchedVerifiedBlocks: refetchedBlocks, nodeTimes: times, survivors: survivors, finished: done.count,
            killed: killed, returned: returned, drops: drops, longestIdle: longestIdle, seedLastByte: seedLastByte,
            haves: haves, events: eventCount, steps: steps)
    }
}
