import ArgumentParser
import CommandLineSupport
import Drivers
import Foundation
import Reconciler

/// `reconcile dev …`: tools for developers and benchmarks, not for operating a site.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Developer tools: synthetic sites and loader benchmarks.",
        shouldDisplay: false,
        subcommands: [GenerateSite.self, BenchLoad.self, BenchPlan.self, JournalStress.self, LabInventory.self,
                      FillStore.self, BenchStore.self, SwarmSim.self, BMCSim.self]
    )
}

extension Dev {
    /// What the virtual data center (scripts/lab/vdc.py) builds a site's lab from, so the lab never parses YAML.
    struct LabInventory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lab-inventory",
            abstract: "Print the site's network and every present node (rack, MAC, IP, BMC) as JSON.")

        @OptionGroup var site: SiteDirectory

        struct Inventory: Encodable {
            struct Network: Encodable {
                var serverAddress: String
                var pxeSubnet: String
                var prefixLength: Int
                var httpPort: Int
                var dhcp: String
                var agentPort: Int
                var agentKeyFile: String
                var tftpRoot: String
                var httpRoot: String
            }

            struct BMC: Encodable {
                var url: String
                var scheme: String
                var host: String
                var port: Int
                var path: String
                var username: String?
                /// `env:NAME` or `file:PATH`: where the password is; never the password.
                var password: String?
            }

            struct Node: Encodable {
                var name: String
                var rack: String
                var mac: String
                var ip: String
                var bootLoader: String
                var image: String
                var services: [String]
                var bmc: BMC
            }

            var site: String
            var network: Network
            var nodes: [Node]
        }

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let desired = try self.site.load()
            let site = desired.site
            let inventory = Inventory(
                site: site.name,
                network: .init(
                    serverAddress: site.network.serverAddress.description,
                    pxeSubnet: site.network.pxeSubnet.description, prefixLength: site.network.pxeSubnet.prefixLength,
                    httpPort: site.network.httpPort, dhcp: site.network.dhcp.rawValue, agentPort: site.agent.port,
                    agentKeyFile: site.agent.keyFile, tftpRoot: site.boot.tftpRoot, httpRoot: site.boot.httpRoot),
                nodes: desired.nodes.filter { $0.state == .present }.map { node in
                    let endpoint = node.bmc.endpoint.value
                    return .init(
                        name: node.name, rack: node.rack.value, mac: node.mac.value.description,
                        ip: node.ip.value.description, bootLoader: node.bootLoader.rawValue, image: node.image.value,
                        services: node.serviceNames,
                        bmc: .init(url: endpoint.description, scheme: endpoint.scheme.rawValue, host: endpoint.host,
                                   port: endpoint.port, path: endpoint.path, username: node.bmc.username,
                                   password: node.bmc.password?.description))
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(inventory), as: UTF8.self))
        }
    }

    struct GenerateSite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-site", abstract: "Write a synthetic site of N nodes.")

        @Option(help: "Number of nodes.") var nodes: Int = 1000
        @Option(help: "Nodes per rack.") var nodesPerRack: Int = 40
        @Option(name: .customLong("out-dir"), help: "The directory to write the site into.") var output: String
        @Option(help: "A file whose lines start with each node's BMC URL (e.g. dev bmc-sim --list).")
        var bmcList: String?

        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            guard nodes > 0, nodes <= 1_000_000 else { throw ValidationError("--nodes must be 1…1000000") }
        }

        func run() async throws {
            let urls = try bmcList.map { path in
                try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                    .compactMap { $0.split(separator: " ").first.map(String.init) }
            }
            if let urls, urls.count < nodes { throw ValidationError("--bmc-list has \(urls.count) BMCs, not \(nodes)") }
            let generator = SiteGenerator(nodes: nodes, nodesPerRack: nodesPerRack, bmcURLs: urls)
            try generator.write(to: output)
            print("wrote \(nodes) nodes in \(generator.rackCount) racks to \(output)")
        }
    }

    /// Times a full load against a raw libyaml event parse of the same bytes and prints JSON.
    struct BenchLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-load", abstract: "Time loading a site against a raw libyaml parse; print JSON.")

        @OptionGroup var bench: SiteBenchmark

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let path = bench.site.path
            let root = URL(fileURLWithPath: path).standardizedFileURL
            let files = SiteLoader.load(path: path).files
            var bytes = 0
            let raw = try bench.best {
                bytes = 0
                for file in files {
                    guard let data = FileManager.default.contents(atPath: root.path + "/" + file),
                          YAMLParser.countEvents([UInt8](data)) != nil else { throw ExitCode.failure }
                    bytes += data.count
                }
            }
            var nodes = 0
            // Loaded sites are freed after the timing, as the commands (which exit without freeing them) do.
            var kept: [LoadResult] = []
            let full = try bench.best {
                let result = SiteLoader.load(path: path, parallel: true)
                guard let state = result.state else { throw ExitCode.failure }
                nodes = state.nodes.count
                kept.append(result)
            }
            kept.removeAll()
            let serial = try bench.best {
                let result = SiteLoader.load(path: path, parallel: false)
                guard result.state != nil else { throw ExitCode.failure }
                kept.append(result)
            }
            kept.removeAll()
            let report: [String: Any] = [
                "benchmark": "load",
                "nodes": nodes,
                "files": files.count,
                "bytes": bytes,
                "cores": ProcessInfo.processInfo.activeProcessorCount,
                "raw_libyaml_seconds": raw,
                "full_load_seconds": full,
                "full_load_one_core_seconds": serial,
                "throughput_ratio": raw / full,
                "throughput_ratio_one_core": raw / serial,
                "goal_ratio": 0.5,
            ]
            try printJSON(report)
        }

    }
}

/// The site directory a dev tool reads.
struct SiteDirectory: ParsableArguments {
    @Argument(help: "Site directory.") var path: String

    /// The loaded site. Its diagnostics go to standard error; a site that does not load is exit status 1.
    func load() throws -> DesiredState {
        let result = SiteLoader.load(path: path)
        if !result.diagnostics.isEmpty {
            FileHandle.standardError.write(Data(result.renderDiagnostics(colour: false).utf8))
        }
        guard let desired = result.state else { throw ExitCode.failure }
        return desired
    }
}

/// A benchmark of a site: the site directory and how often each timing repeats.
struct SiteBenchmark: ParsableArguments {
    @OptionGroup var site: SiteDirectory
    @Option(help: "Repetitions; the best time of each is kept.") var repeats: Int = 3

    /// Runs `body` `repeats` times and returns the best wall time in seconds.
    func best(_ body: () throws -> Void) throws -> Double {
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            best = min(best, try ContinuousClock().measure(body).seconds)
        }
        return best
    }
}

private func printJSON(_ report: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

extension Dev {
    /// Times a first-install plan and a no-op plan against the load alone; prints JSON.
    struct BenchPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-plan", abstract: "Time planning a site against loading it; print JSON.")

        @OptionGroup var bench: SiteBenchmark

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            var loaded: [DesiredState?] = []
            let load = try bench.best { loaded.append(SiteLoader.load(path: bench.site.path).state) }
            guard let last = loaded.last, let desired = last else { throw ExitCode.failure }
            loaded.removeAll()
            var fullPlan = Plan()
            let full = try bench.best { fullPlan = Planner.plan(desired: desired, observed: ObservedState()) }
            let converged = ObservedState().applying(fullPlan, desired: desired)
            var noOpPlan = Plan()
            let noOp = try bench.best { noOpPlan = Planner.plan(desired: desired, observed: converged) }
            guard noOpPlan.isEmpty else { throw ExitCode.failure }
            try printJSON([
                "benchmark": "plan",
                "nodes": desired.nodes.count,
                "actions_full_plan": fullPlan.actions.count,
                "load_seconds": load,
                "full_plan_seconds": full,
                "noop_plan_seconds": noOp,
                "full_plan_to_load_ratio": full / load,
                "noop_plan_to_load_ratio": noOp / load,
                "dry_run_seconds": load + full,
                "goal_plan_to_load_ratio_max": 1.0,
                "goal_dry_run_seconds_max_at_100k": 2.0,
            ])
        }
    }
}

extension Dev {
    /// Writes journal transitions in a tight loop until killed; the crash-safety test kills it with SIGKILL.
    struct JournalStress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "journal-stress", abstract: "Journal actions and node status in a loop (crash tests).")

        @Option(help: "State database path.") var state: String
        @Option(help: "Stop after this many actions.") var count: Int = 1_000_000

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let store = try SQLiteStateStore(path: state)
            for index in 0..<count {
                let node = "n\(index % 50)"
                let action = PlannedAction(node: node, rack: "r1", wave: 1, kind: .installImage, destructive: true,
                                           detail: "stress \(index)")
                let ids = try await store.journalPlanned([action], commit: "stress", at: Date())
                for id in ids {
                    try await store.journalStarted(id, at: Date())
                    try await store.record(NodeStatus(phase: .provisioning, image: "os@\(index)", rack: "r1"),
                                           lastError: nil, for: node, at: Date())
                    try await store.journalFinished(id, at: Date())
                }
                if index == 20 { Terminal.standardOutput.write("ready\n") }
            }
        }
    }
}
