import ArgumentParser
import Foundation
import Reconciler

/// `reconcile dev …`: tools for developers and benchmarks, not for operating a site.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Developer tools: synthetic sites and loader benchmarks.",
        shouldDisplay: false,
        subcommands: [GenerateSite.self, BenchLoad.self]
    )
}

extension Dev {
    struct GenerateSite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-site", abstract: "Write a synthetic site of N nodes.")

        @Option(help: "Number of nodes.") var nodes: Int = 1000
        @Option(help: "Nodes per rack.") var nodesPerRack: Int = 40
        @Option(help: "Output directory.") var output: String

        func validate() throws {
            guard nodes > 0, nodes <= 1_000_000 else { throw ValidationError("--nodes must be 1…1000000") }
        }

        func run() async throws {
            let generator = SiteGenerator(nodes: nodes, nodesPerRack: nodesPerRack)
            try generator.write(to: output)
            print("wrote \(nodes) nodes in \(generator.rackCount) racks to \(output)")
        }
    }

    /// Times a full load against a raw libyaml event parse of the same bytes and prints JSON.
    struct BenchLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-load", abstract: "Time loading a site against a raw libyaml parse; print JSON.")

        @Argument(help: "Site directory.") var path: String
        @Option(help: "Repetitions; the best time of each is kept.") var repeats: Int = 3

        func run() async throws {
            let root = URL(fileURLWithPath: path).standardizedFileURL
            let files = SiteLoader.load(path: path).files
            var bytes = 0
            let raw = try best(repeats) {
                bytes = 0
                for file in files {
                    guard let data = FileManager.default.contents(atPath: root.path + "/" + file),
                          YAMLParser.countEvents([UInt8](data)) != nil else { throw ExitCode.failure }
                    bytes += data.count
                }
            }
            var nodes = 0
            let full = try best(repeats) {
                let result = SiteLoader.load(path: path, parallel: true)
                guard let state = result.state else { throw ExitCode.failure }
                nodes = state.nodes.count
            }
            let serial = try best(repeats) {
                guard SiteLoader.load(path: path, parallel: false).state != nil else { throw ExitCode.failure }
            }
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
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }

        private func best(_ repeats: Int, _ body: () throws -> Void) throws -> Double {
            var best = Double.infinity
            for _ in 0..<max(1, repeats) {
                let clock = ContinuousClock()
                let elapsed = try clock.measure(body)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                best = min(best, seconds)
            }
            return best
        }
    }
}
