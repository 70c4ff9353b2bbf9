import ArgumentParser
import CommandLineSupport
import Foundation
import RackswarmCore
import Torrent

extension Dev {
    /// `reconcile dev swarm-sim`: the engine's own swarm logic over a simulated data center, in virtual time.
    struct SwarmSim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "swarm-sim",
            abstract: "Simulate one image spreading to N peers with the engine's own logic (benchmarks/README.md).",
            discussion: """
                Rates are bytes per second (125MB = 1 GbE) or bits with a `bit` suffix (1Gbit, 40Mbit, 10Gbit). \
                The bound is T_p2p with rack uplinks (see `bound_p2p_s` in benchmarks/README.md).
                """)

        @Option(help: "Peers (the seed is extra).") var peers: Int = 16
        @Option(help: "Racks; peers fill them in order.") var racks: Int = 1
        @Option(help: "Image size.", transform: Quantity.bytesFlag(in: 1...(1 << 40))) var file: Int64 = 32 << 20
        @Option(help: "Piece size.", transform: Quantity.bytesFlag(in: Quantity.pieceSizes))
        var piece: Int64 = 256 << 10
        @Option(help: "Request size (16K as on the wire; larger is coarser and faster to simulate).",
                transform: Quantity.bytesFlag(in: (16 << 10)...(64 << 20)))
        var request: Int64 = 16 << 10
        @Option(help: "Each peer's link rate, up and down.", transform: SwarmSim.rate) var nodeRate: Double = 5e6
        @Option(help: "Each rack's uplink rate, each way (none: one switch).", transform: SwarmSim.rate)
        var uplink: Double?
        @Option(help: "The core's rate (none: not a limit).", transform: SwarmSim.rate) var core: Double?
        @Option(help: "The seed's link rate.", transform: SwarmSim.rate) var seedRate: Double = 5e6
        @Option(help: .duration("Latency per hop, up to 1s (e.g. 50us, 0.00005)."),
                transform: Quantity.durationFlag(in: .zero ... .seconds(1)))
        var hopLatency: Duration = .microseconds(50)
        @Option(help: "Rack waves: this many peers per rack first, the rest at their first piece (default: flat).")
        var firstWave: Int?
        @Option(help: "Share of peers killed at random times mid-transfer.") var churn: Double = 0
        @Option(help: "Share of the killed peers that come back.") var churnReturn: Double = 0.5
        @Option(help: .duration("How long a killed peer stays away before it comes back (e.g. 5s)."),
                transform: Quantity.durationFlag())
        var churnDelay: Duration = .seconds(5)
        @Option(help: "Random seed: the same seed replays the same run.") var seed: UInt64 = 1
        @Option(help: .duration("Time step of the flow model, from 1us to 1s (e.g. 1ms, 0.001)."),
                transform: Quantity.durationFlag(in: .microseconds(1) ... .seconds(1)))
        var step: Duration = .milliseconds(1)
        @Option(help: .duration("Virtual time after which to stop (e.g. 3600, 1h)."),
                transform: Quantity.durationFlag())
        var timeLimit: Duration = .seconds(3600)
        @Flag(inversion: .prefixedNo, help: "The seed super-seeds (as `reconcile seed` does).") var superSeed = true
        @Option(help: "The super-seed's offers out at once (default: the engine's).") var superSeedInFlight: Int?
        @Flag(help: "Send every `have` to every peer (no have-suppression; for comparison).") var redundantHaves = false
        @Option(help: "Most connections a peer dials (default: the engine's, half of its 80).") var maxOutgoing: Int?
        @Option(help: .duration("Time between choking rounds, in whole seconds (e.g. 10s; default: the engine's, 1s)."),
                transform: Quantity.durationFlag(in: .seconds(1) ... .seconds(3600)))
        var chokeInterval: Duration?
        @Flag(help: "Peers keep traffic in the racks the tracker names (it names them with --uplink or --first-wave).")
        var rackPreference = false
        @Option(help: "How flows share links: max-min, or window (window-limited TCP, as in the lab).")
        var sharing: SwarmSimulation.Sharing = .maxMin
        @OptionGroup var output: OutputOptions

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        static func rate(_ text: String) throws -> Double {
            if text.hasSuffix("bit") {
                let number = text.dropLast(3)
                let scale: [Character: Double] = ["k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12]
                if let unit = number.last, let factor = scale[unit], let value = Double(number.dropLast()) {
                    return value * factor / 8
                }
                guard let value = Double(number) else { throw ValidationError("not a rate: '\(text)'") }
                return value / 8
            }
            return Double(try Quantity.bytesFlag(in: Quantity.rates)(text))
        }

        func validate() throws {
            guard (1...1_000_000).contains(peers) else { throw ValidationError("--peers must be 1…1000000") }
            guard racks >= 1 else { throw ValidationError("--racks must be at least 1") }
            guard request <= piece else { throw ValidationError("--request must not exceed --piece") }
            guard (0...1).contains(churn), (0...1).contains(churnReturn) else {
                throw ValidationError("--churn and --churn-return are shares from 0 to 1")
            }
            if let firstWave, firstWave < 1 { throw ValidationError("--first-wave must be at least 1") }
            if let chokeInterval, chokeInterval.components.attoseconds != 0 {
                throw ValidationError("--choke-interval must be whole seconds (the engine's choking rounds fall on its "
                                      + "once-a-second ticks)")
            }
            if let maxOutgoing, maxOutgoing < 1 { throw ValidationError("--max-outgoing must be at least 1") }
            if let superSeedInFlight, superSeedInFlight < 1 {
                throw ValidationError("--super-seed-in-flight must be at least 1")
            }
        }

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            var configuration = SwarmSimulation.Configuration(
                peers: peers, racks: racks, fileBytes: file, pieceBytes: Int(piece), requestBytes: Int(request),
                nodeRate: nodeRate, uplinkRate: uplink, coreRate: core, seedRate: seedRate,
                hopLatency: Self.seconds(hopLatency),
                firstWave: firstWave, churn: churn, churnReturn: churnReturn,
                churnDelay: Self.seconds(churnDelay), seed: seed,
                step: Self.seconds(step), superSeed: superSeed, superSeedInFlight: superSeedInFlight,
                timeLimit: Self.seconds(timeLimit))
            configuration.redundantHaves = redundantHaves
            configuration.maxOutgoingConnections = maxOutgoing
            configuration.rackPreference = rackPreference
            configuration.sharing = sharing
            configuration.chokeInterval = chokeInterval.map { Int($0.components.seconds) }
            let started = ContinuousClock.now
            let result = SwarmSimulation.run(configuration)
            let wall = started.duration(to: .now)
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let report = Report(
                result: result,
                wallSeconds: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18,
                maxRSSMiB: Double(usage.ru_maxrss) / 1024,
                cpuSeconds: Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                    + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6)
            switch output.output {
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                try output.emit(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
            case .text:
                let bound = result.boundP2P
                try output.emit(
                    String(
                        format: "makespan %.2f s (%.3f× T_p2p %.2f s), p50 %.2f s (%.3f×), p99 %.2f s; "
                            + "seed egress %.3f F; "
                            + "%d/%d done; duplicate blocks %d; %.1f s wall, %.0f MiB\n",
                        result.makespan, result.makespan / bound, bound, result.p50, result.p50 / bound, result.p99,
                        result.seedEgressOverF, result.finished, result.survivors, result.duplicateBlocks,
                        report.wallSeconds, report.maxRSSMiB))
            }
        }

        /// The result plus what the run cost.
        struct Report: Encodable {
            var result: SwarmSimulation.Result
            var wallSeconds: Double
            var maxRSSMiB: Double
            /// User and system CPU time of the whole process (the wall time depends on the machine's load).
            var cpuSeconds: Double

            enum CodingKeys: String, CodingKey {
                case wallSeconds = "wall_s", maxRSSMiB = "max_rss_mib", cpuSeconds = "cpu_s"
            }

            func encode(to encoder: any Encoder) throws {
                try result.encode(to: encoder)
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(wallSeconds, forKey: .wallSeconds)
                try container.encode(maxRSSMiB, forKey: .maxRSSMiB)
                try container.encode(cpuSeconds, forKey: .cpuSeconds)
            }
        }
    }
}

extension SwarmSimulation.Sharing: ExpressibleByArgument, Decodable {}
