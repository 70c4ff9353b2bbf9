import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The simulator's world: the virtual clock, the event queue, the nodes, the tracker and the flows of block data.
///
/// Time advances in steps of `configuration.step`. Each step first gives every connection with requests queued at an
/// unchoked uploader (a flow) its fair rate over its path (max-min, or window-limited TCP's: `Configuration.sharing`)
/// and moves the step's bytes, from the moment the flow could send (`Flow.from`); a block whose last byte left
/// reaches the downloader one latency later. Then it handles, in time order and each at its own time, every event
/// due within the step (messages after their latency, blocks, timers, dials, announces, kills), those sent while
/// handling them included. With no data moving, the clock jumps to the step of the next event.
final class SwarmSimulator {
    let configuration: SwarmSimulation.Configuration
    let network: SimulatedNetwork
    private(set) var now = 0.0
    var deadline: NIODeadline { .uptimeNanoseconds(Self.epoch + UInt64(max(0, now) * 1e9)) }
    static let epoch: UInt64 = 1_000_000_000_000
    let pieceCount: Int
    var nodes: [SimulatedNode?]
    var generations: [Int]
    var tracker: Tracker
    private var trackerRandom: SwarmRandom
    var churnRandom: SwarmRandom
    var queue = EventQueue()
    /// Connections whose uploader has requests queued and unchoked, with their rates while the set is unchanged.
    var flows: [Flow] = []
    var flowRates: [Double] = []
    var flowsChanged = false
    /// With window sharing, the links' prices of the last solve: the next one starts from them (`WindowShare`).
    var windowPrices: [Double] = []
    /// Flows whose connection closed, choked or lost its queue outside `moveData` since the last `pruneFlows`
    /// (`flowNotice`), and how many `moveData` emptied: only these can end, so only these are looked at.
    var flowNotices: Set<ObjectIdentifier> = []
    var drainedFlows = 0
    var rateComputations = 0
    /// Every connection and node object of the run, kept until it ends, so that envelopes and flows can point to
    /// them unretained: a retain and release per `have` sent was a cache miss on the receiving end's object.
    var everyConnection: [SimulatedPeer] = []
    var everyNode: [SimulatedNode] = []
    /// A message on its way to the receiving end of a connection (dropped if that end has closed by then).
    struct Envelope {
        var peer: Unmanaged<SimulatedPeer>
        var message: SimulatedMessage
    }

    /// Messages sent at the current moment, one batch per sender and latency class (`SimulatedNetwork.latencyClass`),
    /// so that a node's `have` to its 80 peers is one event, and a connection's messages stay in order.
    var outbox: [[Envelope]]
    var outboxTimes: [Double]
    var outboxUsed: [Int] = []
    /// Marks the connections a batch touched (once each), to top up their requests after it as `readComplete` does.
    var batchStamp: UInt64 = 0
    var finishedAt: [Double?]
    var firstPieceAt: [Double?]
    var lastBlockAt: [Double]
    var longestIdle = 0.0
    var goneForGood: Set<Int> = []
    /// Peers neither finished nor gone for good (the run ends at 0, with no return pending).
    var unfinished: Int
    /// What each killed node had verified, for its next life.
    var savedHave: [Int: Bitfield] = [:]
    var pendingReturns = 0
    var killed = 0
    /// The latest a returning peer can finish: back at t_r lacking L_r bytes, t_r + L_r / its rate.
    var returnBound = 0.0
    var returned = 0
    var seedEgress: Int64 = 0
    var seedLastByte = 0.0
    let debugTrace = getenv("SWARM_SIM_TRACE") != nil
    /// With SWARM_SIM_PROGRESS set: a line per virtual second on stderr (time, peers done, events).
    let showProgress = getenv("SWARM_SIM_PROGRESS") != nil
    /// With SWARM_SIM_CENSUS=seconds: a census of the peers' states that often (`census`).
    let censusEvery = getenv("SWARM_SIM_CENSUS").flatMap { Double(String(cString: $0)) }
    var uplinkBytes: [Int64]
    var drops: [String: Int] = [:]
    var duplicateBlocks = 0
    var refetched = 0
    var eventCount = 0
    var haves = 0
    var steps = 0
    let infoHash = [UInt8](repeating: 0x5A, count: 20)
    static let port = 6881

    init(configuration: SwarmSimulation.Configuration) {
        self.configuration = configuration
        network = SimulatedNetwork(configuration: configuration)
        let pieceBytes = Int64(configuration.pieceBytes)
        pieceCount = Int((configuration.fileBytes + pieceBytes - 1) / pieceBytes)
        let count = configuration.peers + 1
        unfinished = configuration.peers
        nodes = Array(repeating: nil, count: count)
        generations = Array(repeating: 0, count: count)
        finishedAt = Array(repeating: nil, count: count)
        firstPieceAt = Array(repeating: nil, count: count)
        lastBlockAt = Array(repeating: 0, count: count)
        outbox = Array(repeating: [], count: count * SimulatedNetwork.latencyClasses)
        outboxTimes = Array(repeating: 0, count: count * SimulatedNetwork.latencyClasses)
        uplinkBytes = Array(repeating: 0, count: configuration.uplinkRate == nil ? 0 : network.racks)
        var racks: [String: String] = [:]
        if configuration.trackerKnowsRacks {
            for node in 1..<count { racks[Self.host(node)] = network.rack(of: node).map { "r\($0)" } }
        }
        tracker = Tracker(
            configuration: TrackerConfiguration(
                racksByHost: racks, pinnedSeeds: [PeerAddress(host: Self.host(0), port: Self.port)],
                maxEntriesPerHost: 1))
        trackerRandom = SwarmRandom(seed: configuration.seed ^ 0x7472_6163_6b65_72)
        churnRandom = SwarmRandom(seed: configuration.seed ^ 0x6368_7572_6e)
    }

    // MARK: What nodes ask of the world

    /// Sends a message; those a node sends at one moment over paths of one latency travel as one event.
    func send(_ message: SimulatedMessage, from node: SimulatedNode, to peer: SimulatedPeer) {
        // From the node's table (`SimulatedNode.links`), not the connection's object: what the `have` fan-out
        // reads of the connection is its first cache line, and its counterpart and remote end lie further on.
        let link = node.link(of: peer)
        guard let receiver = link.receiver else { return }
        if case .have = message { haves += 1 }
        let destination = link.remote
        let slot = node.index * SimulatedNetwork.latencyClasses + link.latencyClass
        if outbox[slot].isEmpty {
            outboxUsed.append(slot)
            outboxTimes[slot] = now + network.latency(node.index, destination)
        }
        outbox[slot].append(Envelope(peer: receiver, message: message))
    }

    /// Puts the messages sent at the current moment on their way.
    func flushOutbox() {
        for slot in outboxUsed {
            queue.push(at: outboxTimes[slot], .batch(outbox[slot]))
            outbox[slot] = []
        }
        outboxUsed.removeAll(keepingCapacity: true)
    }

    func connect(from node: SimulatedNode, to target: Int) {
        queue.push(
            at: now + 2 * network.latency(node.index, target),
            .connect(from: node.index, generation: node.generation, to: target))
    }

    /// `peer`'s uploader has a request queued for it again (its queue was empty): a flow from now.
    func flowReady(_ node: SimulatedNode, _ peer: SimulatedPeer) {
        peer.readySince = now
        guard !peer.inFlow else { return }
        peer.inFlow = true
        flows.append(Flow(node: node, peer: peer, id: ObjectIdentifier(peer), from: now))
        flowsChanged = true
    }

    func announce(_ node: SimulatedNode, event: AnnounceRequest.Event?) {
        queue.push(
            at: now + 2 * network.latency(node.index, 0),
            .announced(node: node.index, generation: node.generation, event: event))
    }

    func dropped(_ reason: String, by node: SimulatedNode, peer: SimulatedPeer) { drops[reason, default: 0] += 1 }

    func verified(_ node: SimulatedNode, piece: Int) {
        guard firstPieceAt[node.index] == nil else { return }
        firstPieceAt[node.index] = now
        startWaitingWave(of: node.index)
    }

    func finished(_ node: SimulatedNode) {
        guard finishedAt[node.index] == nil else { return }
        finishedAt[node.index] = now
        unfinished -= 1
    }

    func living(_ index: Int, _ generation: Int) -> SimulatedNode? {
        guard let node = nodes[index], node.generation == generation else { return nil }
        return node
    }

    // MARK: Running

    func run() -> SwarmSimulation.Result {
        start(0)
        scheduleStarts()
        scheduleChurn()
        let step = configuration.step
        // The clock's steps are whole multiples of `step` (no drift from adding it up).
        var stepIndex = 0
        while now < configuration.timeLimit, !done {
            let stepEnd = Double(stepIndex + 1) * step
            pruneFlows()
            if flows.isEmpty {
                guard let next = queue.peekTime else { break }
                if next >= stepEnd {
                    stepIndex = max(stepIndex + 1, Int((next / step).rounded(.down)))
                    now = Double(stepIndex) * step
                    continue
                }
            }
            moveData(until: stepEnd)
            // The census reads the flows' rates, which hold for the flows of this step until its events add more.
            if let every = censusEvery, Int(stepEnd / every) != Int(now / every) { census() }
            handleEvents(before: stepEnd)
            stepIndex += 1
            now = Double(stepIndex) * step
            steps += 1
            if showProgress, Int(now) != Int(now - step) { progress() }
        }
        return result()
    }

    /// Handles every event due before `end`, each at its own time, those sent meanwhile included: the messages a
    /// node sends go on their way (`flushOutbox`) before the clock moves past the moment they were sent, so a reply
    /// due within the step is handled within it. (An event due before the step began, a block `moveData` sent from
    /// a flow's start in the last step, is handled at the step's start: the clock never goes back.)
    private func handleEvents(before end: Double) {
        while true {
            if !outboxUsed.isEmpty, !(queue.peekTime.map { $0 <= now } ?? false) { flushOutbox() }
            guard let due = queue.peekTime, due < end, let entry = queue.pop() else { break }
            now = max(now, entry.time)
            handle(entry.event)
            eventCount += 1
        }
    }

    private func progress() {
        let line = "t \(Int(now)) s: \(configuration.peers - unfinished)/\(configuration.peers) done, "
            + "\(eventCount) events, \(flows.count) flows\n"
        Self.diagnostic(line)
    }

    /// Writes one diagnostic line (progress, trace, census) to standard error, unbuffered.
    static func diagnostic(_ line: String) {
        var bytes = Array(line.utf8)
        _ = write(2, &bytes, bytes.count)
    }

    private var done: Bool { pendingReturns == 0 && unfinished == 0 }

    func start(_ index: Int) {
        generations[index] += 1
        let generation = generations[index]
        let have = savedHave[index] ?? Bitfield(count: pieceCount, allSet: index == 0)
        let rack = configuration.trackerKnowsRacks ? network.rack(of: index).map { "r\($0)" } : nil
        var settings = TorrentConfiguration(
            listenHost: nil, rack: rack, superSeed: index == 0 && configuration.superSeed,
            randomSeed: configuration.seed &* 0x9E37_79B9 &+ UInt64(index) &* 7919 &+ UInt64(generation))
        if let inFlight = configuration.superSeedInFlight { settings.superSeedInFlight = inFlight }
        settings.redundantHaves = configuration.redundantHaves
        settings.maxOutgoingConnections = configuration.maxOutgoingConnections
        settings.rackPreference = configuration.rackPreference
        settings.chokeInterval = configuration.chokeInterval ?? settings.chokeInterval
        let node = SimulatedNode(world: self, index: index, generation: generation, have: have, configuration: settings)
        nodes[index] = node
        everyNode.append(node)
        lastBlockAt[index] = now
        queue.push(at: now + 1, .tick(node: index, generation: generation))
        queue.push(at: now + 0.25, .redial(node: index, generation: generation))
        node.announce(.started)
    }

    private func scheduleStarts() {
        for index in 1..<nodes.count {
            let position = (index - 1) % network.rackSize
            if let wave = configuration.firstWave, position >= wave { continue }
            queue.push(at: 0, .start(index))
        }
    }

    /// Starts the rest of a rack once every first-wave node of it has a verified piece.
    private func startWaitingWave(of index: Int) {
        guard let wave = configuration.firstWave, let rack = network.rack(of: index) else { return }
        let members = (rack * network.rackSize + 1)...min(nodes.count - 1, (rack + 1) * network.rackSize)
        let first = members.prefix(wave)
        guard first.allSatisfy({ firstPieceAt[$0] != nil || finishedAt[$0] != nil }) else { return }
        for member in members.dropFirst(wave) where nodes[member] == nil && generations[member] == 0 {
            queue.push(at: now, .start(member))
        }
    }

    private func handle(_ event: SimulatorEvent) {
        switch event {
        case .message(let peer, let message):
            guard peer.isOpen else { return }
            let node = peer.owner
            if case .block = message {
                let index = node.index
                longestIdle = max(longestIdle, finishedAt[index] == nil ? now - lastBlockAt[index] : 0)
                lastBlockAt[index] = now
            }
            node.received(message, from: peer)
        case .batch(let envelopes):
            deliver(envelopes)
        case .connect(let from, let generation, let to):
            establish(from: from, generation: generation, to: to)
        case .start(let index):
            if generations[index] == 0 { start(index) }
        case .tick(let index, let generation):
            guard let node = living(index, generation) else { return }
            node.tick()
            queue.push(at: now + 1, .tick(node: index, generation: generation))
        case .redial(let index, let generation):
            guard let node = living(index, generation) else { return }
            node.redial()
            queue.push(at: now + 0.25, .redial(node: index, generation: generation))
        case .announced(let index, let generation, let event):
            guard let node = living(index, generation) else { return }
            answerAnnounce(node, event: event)
        case .kill(let index, let returns):
            kill(index, returns: returns)
        case .revive(let index):
            pendingReturns -= 1
            returned += 1
            start(index)
        }
    }

    /// Hands a batch to its connections, then lets each connection it touched ask for more blocks (once).
    ///
    /// Two stamps instead of a list: `touched` marks a connection in the first pass, and the second pass, in the same
    /// order, tops up each marked one and moves it to `served` (no array of connections per batch).
    ///
    /// The world keeps every connection a batch names (`everyConnection`), so the loops borrow them unretained
    /// (`_withUnsafeGuaranteedRef`; an `unowned(unsafe)` local still retains to call a method): a retain and release
    /// per message was 7 % of a 10,000-peer run.
    private func deliver(_ envelopes: [Envelope]) {
        batchStamp &+= 2
        let touched = batchStamp
        let served = batchStamp &+ 1
        for position in envelopes.indices {
            envelopes[position].peer._withUnsafeGuaranteedRef { peer in
                guard peer.isOpen else { return }
                peer.owner.handle(envelopes[position].message, from: peer)
                if peer.isOpen, peer.batchStamp != touched { peer.batchStamp = touched }
            }
        }
        for position in envelopes.indices {
            envelopes[position].peer._withUnsafeGuaranteedRef { peer in
                guard peer.batchStamp == touched else { return }
                peer.batchStamp = served
                if peer.isOpen { peer.owner.requestBlocks(peer) }
            }
        }
    }

    private func establish(from index: Int, generation: Int, to target: Int) {
        guard let dialer = living(index, generation) else { return }
        guard let listener = nodes[target], listener.generation == generations[target],
            let accepted = listener.connected(remote: index, counterpart: nil, outgoing: false)
        else { return dialer.dialFailed(target) }
        guard let outgoing = dialer.connected(remote: target, counterpart: accepted, outgoing: true) else {
            return listener.disconnected(accepted)
        }
        accepted.counterpart = outgoing
    }

    private func answerAnnounce(_ node: SimulatedNode, event: AnnounceRequest.Event?) {
        let index = node.index
        let digits = String(index)
        let peerID = Array(("-SIM000-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits).utf8)
        let left = Int64(pieceCount - node.have.setCount) * Int64(configuration.pieceBytes)
        let request = AnnounceRequest(
            infoHash: infoHash, peerID: peerID, port: Self.port, left: max(0, left),
            event: event, rack: node.configuration.rack)
        let body = tracker.announce(request, remoteHost: Self.host(index), now: now, using: &trackerRandom)
        guard let response = try? AnnounceResponse(bencoded: body) else { return node.announced(nil, interval: nil) }
        let found = response.peers.compactMap { self.node(forTarget: "\($0.host):\($0.port)") }
        node.learnRack(response.rackPeers.map(\.host) + response.rackHosts, keep: response.keepInRack)
        node.announced(found, interval: response.interval)
    }
}
