import MemberwiseInit

/// A swarm run in virtual time: the engine's own parts over a simulated data-center network.
///
/// `run(_:)` builds the seed and the peers, each driving the same `RequestScheduler` (over the `PiecePicker`),
/// `Choker`, `SuperSeedOffers`, `PeerTimeouts`, `DialBackoff` and `Announcer` that `TorrentSession` does, with a
/// real `Tracker` answering their announces; messages take the network's latency and block data moves as flows
/// with max-min fair rates (`FairShare`), or window-limited TCP's (`WindowShare`, `Configuration.sharing`), over the
/// links of `SimulatedNetwork`. See benchmarks/README.md.
public enum SwarmSimulation {
    /// What to simulate, with the engine's and the lab's defaults. Rates are nominal bytes per second; sizes bytes;
    /// times seconds.
    @PublicMemberwiseInit
    public struct Configuration: Sendable {
        public var peers: Int
        public var racks: Int = 1
        public var fileBytes: Int64
        public var pieceBytes: Int
        /// The size of one request: 16 KiB as on the wire; larger coarsens the simulation (fewer events).
        public var requestBytes: Int = 16 << 10
        public var nodeRate: Double
        /// Each rack's uplink to the core, each way; nil: one switch, no uplinks.
        public var uplinkRate: Double?
        /// The core's capacity; nil: not a limit.
        public var coreRate: Double?
        public var seedRate: Double
        public var hopLatency: Double = 0.000_05
        /// Rack waves: per rack, this many peers first and the rest at their first verified piece; nil: flat.
        public var firstWave: Int?
        /// The share of peers killed at random times mid-transfer.
        public var churn: Double = 0
        /// The share of the killed peers that come back (resuming from their verified pieces).
        public var churnReturn: Double = 0.5
        /// How long a killed peer stays away before coming back.
        public var churnDelay: Double = 5
        public var seed: UInt64 = 1
        /// The time step of the flow model: flows get their fair rates once per step (events, messages included,
        /// are handled at their own times).
        public var step: Double = 0.001
        /// Payload share of a link's rate (TCP/IP and Ethernet headers: 1448 of 1514 bytes per frame).
        public var goodput: Double = 1448.0 / 1514.0
        public var superSeed: Bool = true
        /// The seed's offers out at once when super-seeding (nil: the engine's default).
        public var superSeedInFlight: Int?
        /// Virtual time after which the run stops, finished or not.
        public var timeLimit: Double = 3600
        /// Every `have` to every peer (`TorrentConfiguration.redundantHaves`), for comparison with have-suppression.
        public var redundantHaves: Bool = false
        /// Most connections each peer dials (`TorrentConfiguration.maxOutgoingConnections`; nil: the engine's).
        public var maxOutgoingConnections: Int?
        /// Seconds between choking rounds (`TorrentConfiguration.chokeInterval`; nil: the engine's, 1 s).
        public var chokeInterval: Int?
        /// The engine keeps traffic in racks the tracker names (`TorrentConfiguration.rackPreference`, off by
        /// default). The tracker names every node's rack when racks matter (uplinks or waves), as the reconciler's
        /// does from the desired state.
        public var rackPreference: Bool = false
        /// How flows share links: max-min fair (the default), or as window-limited TCP flows do (`WindowShare`).
        public var sharing: Sharing = .maxMin

        /// Whether the tracker knows the racks: with uplinks (a data center, whose reconciler knows every node's
        /// rack) or rack waves; not in the lab's flat runs, whose tracker is told no racks.
        var trackerKnowsRacks: Bool { uplinkRate != nil || firstWave != nil }
    }

    /// How flows share the links (`reconcile dev swarm-sim --sharing`).
    public enum Sharing: String, Sendable, CaseIterable {
        /// Max-min fair (`FairShare`).
        case maxMin = "max-min"
        /// Window-limited TCP: rates set by the queueing delay on the data's and the acknowledgements' paths
        /// (`WindowShare`).
        case window
    }

    /// What a run measured; the JSON keys are `reconcile dev swarm-sim --output json`'s.
    public struct Result: Sendable, Encodable {
        /// The last surviving peer's finish (seconds from the start).
        public var makespan: Double
        public var p50: Double
        public var p99: Double
        /// T_p2p for the configuration (`Configuration.boundP2P`).
        public var boundP2P: Double
        /// The survivors' bound: T_p2p recomputed for them (peers not killed for good), or later when a peer that
        /// came back could not finish sooner: back at t_r lacking L_r bytes, it needs t_r + L_r / its rate.
        public var boundSurvivors: Double
        /// T_p2p recomputed for the survivors alone (`boundSurvivors` without the returns; session 10's bound).
        public var boundSurvivorsP2P: Double
        public var seedEgressOverF: Double
        /// Bytes across each rack's uplink (both directions) over F; empty without uplinks.
        public var uplinkBytesOverF: [Double]
        /// Blocks received twice or after a cancel, summed over the peers.
        public var duplicateBlocks: Int
        /// Blocks a peer that came back received for pieces it had verified before it was killed.
        public var refetchedVerifiedBlocks: Int
        /// Each peer's finish (nil: killed for good, or not done by the time limit).
        public var nodeTimes: [Double?]
        public var survivors: Int
        public var finished: Int
        public var killed: Int
        public var returned: Int
        /// Peer connections dropped, by the reason the engine gave.
        public var drops: [String: Int]
        /// The longest a started, unfinished peer went without receiving a block (a stall).
        public var longestIdle: Double
        /// When the seed sent its last byte.
        public var seedLastByte: Double
        /// `have` messages sent (after have-suppression; the super-seed's offers included).
        public var haves: Int
        public var events: Int
        public var steps: Int

        enum CodingKeys: String, CodingKey {
            case makespan = "makespan_s", p50 = "p50_s", p99 = "p99_s", boundP2P = "bound_p2p_s"
            case boundSurvivors = "bound_survivors_s", boundSurvivorsP2P = "bound_survivors_p2p_s"
            case seedEgressOverF = "seed_egress_over_F"
            case uplinkBytesOverF = "uplink_bytes_over_F", duplicateBlocks = "duplicate_blocks"
            case refetchedVerifiedBlocks = "refetched_verified_blocks", nodeTimes = "node_times_s"
            case survivors, finished, killed, returned, drops, longestIdle = "longest_idle_s"
            case seedLastByte = "seed_last_byte_s", haves, events, steps
        }
    }

    /// Runs the simulation to its end (every survivor done, or the time limit).
    public static func run(_ configuration: Configuration) -> Result {
        let simulator = SwarmSimulator(configuration: configuration)
        return simulator.run()
    }

    /// The p-th percentile (0…1) of `values`, linearly interpolated; 0 when empty.
    static func percentile(_ values: [Double], _ quantile: Double) -> Double {
        let ordered = values.sorted()
        guard !ordered.isEmpty else { return 0 }
        let rank = Double(ordered.count - 1) * quantile
        let low = Int(rank)
        let high = min(low + 1, ordered.count - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - Double(low))
    }
}

extension SwarmSimulation.Configuration {
    /// Bytes of the file in the pieces `have` lacks (the last piece may be short).
    func lackingBytes(_ have: Bitfield) -> Double {
        let pieces = Int64(have.count)
        var lacking = (pieces - Int64(have.setCount)) * Int64(pieceBytes)
        if !have.contains(have.count - 1) { lacking -= pieces * Int64(pieceBytes) - fileBytes }
        return Double(lacking)
    }
}
