/// The simulated data center's links: each node's up and down link, each rack's uplink both ways, and the core.
///
/// Node 0 is the seed; nodes 1…N are the peers, in racks of consecutive indices. With an uplink rate, every rack
/// reaches the core through its own uplink and the seed sits on the core (as in `lab.py --uplink-mbit`): a flow
/// between racks crosses the sender's uplink up, the core, the receiver's uplink down. Without one, every node is
/// on one switch. Latency is a fixed time per hop (node–switch, switch–core).
struct SimulatedNetwork {
    let peers: Int
    let rackSize: Int
    let racks: Int
    /// Link capacities in payload bytes per second.
    private(set) var capacities: [Double] = []
    let hopLatency: Double
    let hasUplinks: Bool
    private let coreLink: Int32?

    init(configuration: SwarmSimulation.Configuration) {
        peers = configuration.peers
        racks = max(1, min(configuration.racks, configuration.peers))
        rackSize = (configuration.peers + racks - 1) / racks
        hopLatency = configuration.hopLatency
        hasUplinks = configuration.uplinkRate != nil
        let goodput = configuration.goodput
        for node in 0...configuration.peers {
            let rate = (node == 0 ? configuration.seedRate : configuration.nodeRate) * goodput
            capacities += [rate, rate]
        }
        if let uplink = configuration.uplinkRate {
            for _ in 0..<racks { capacities += [uplink * goodput, uplink * goodput] }
        }
        if let core = configuration.coreRate {
            coreLink = Int32(capacities.count)
            capacities.append(core * goodput)
        } else {
            coreLink = nil
        }
    }

    /// The rack of a peer (1…N); nil for the seed.
    func rack(of node: Int) -> Int? { node == 0 ? nil : (node - 1) / rackSize }

    /// Whether a flow from `source` to `target` crosses the core (and so rack uplinks).
    func crossesCore(_ source: Int, _ target: Int) -> Bool {
        hasUplinks && rack(of: source) != rack(of: target)
    }

    /// The links a flow from `source` to `target` crosses.
    func path(from source: Int, to target: Int) -> [Int32] {
        var paths = FlowPaths()
        appendPath(from: source, to: target, to: &paths)
        return Array(paths.path(0))
    }

    /// Adds the path of a flow from `source` to `target` to `paths` (without an array per flow).
    func appendPath(from source: Int, to target: Int, to paths: inout FlowPaths) {
        paths.add(Int32(2 * source))
        if crossesCore(source, target) {
            let firstUplink = 2 * (peers + 1)
            if let rack = rack(of: source) { paths.add(Int32(firstUplink + 2 * rack)) }
            if let coreLink { paths.add(coreLink) }
            if let rack = rack(of: target) { paths.add(Int32(firstUplink + 2 * rack + 1)) }
        }
        paths.add(Int32(2 * target + 1))
        paths.endFlow()
    }

    /// How many different one-way latencies there are (`latencyClass`).
    static let latencyClasses = 3

    /// Which latency a path has: 0 within a switch, 1 between the seed and a rack, 2 between racks.
    func latencyClass(_ source: Int, _ target: Int) -> Int {
        guard crossesCore(source, target) else { return 0 }
        return source == 0 || target == 0 ? 1 : 2
    }

    /// One-way latency between two nodes.
    func latency(_ source: Int, _ target: Int) -> Double {
        guard crossesCore(source, target) else { return 2 * hopLatency }
        return Double(source == 0 || target == 0 ? 3 : 4) * hopLatency
    }
}

extension SwarmSimulation.Configuration {
    /// The time no distribution can beat (T_p2p with rack uplinks), with nominal rates:
    ///
    ///     max( F/u_s, F/d, N·F/(u_s + N·u),                     the classic bound (seed, slowest node, all uploads)
    ///          F/U, n·F/(n·u + U),                               per rack of n nodes behind an uplink of U each way
    ///          R·F/(u_s + Σ_r min(U, n_r·u)),  R·F/C )           every rack needs F through the core
    ///
    /// The rack terms hold because rack r must receive F through its uplink and its n_r nodes need n_r·F in all,
    /// from their own uploads or the uplink; the core terms because every one of R racks needs a copy from outside
    /// it (the seed or another rack's uplink), and the core carries each. Without uplinks only the first line holds.
    public func boundP2P(peers count: Int? = nil) -> Double {
        let n = Double(count ?? peers)
        let file = Double(fileBytes)
        var bound = max(file / seedRate, file / nodeRate, n * file / (seedRate + n * nodeRate))
        guard let uplink = uplinkRate, n > 0 else { return bound }
        let rackCount = max(1, min(racks, Int(n)))
        let size = (Int(n) + rackCount - 1) / rackCount
        var crossing = seedRate
        var remaining = Int(n)
        for _ in 0..<rackCount {
            let members = Double(min(size, remaining))
            remaining -= min(size, remaining)
            guard members > 0 else { continue }
            bound = max(bound, file / uplink, members * file / (members * nodeRate + uplink))
            crossing += min(uplink, members * nodeRate)
        }
        bound = max(bound, Double(rackCount) * file / crossing)
        if let core = coreRate { bound = max(bound, Double(rackCount) * file / core) }
        return bound
    }
}
