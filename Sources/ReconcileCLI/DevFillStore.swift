import ArgumentParser
import CommandLineSupport
import Drivers
import Foundation
import Reconciler

extension Dev {
    /// Writes the state database a converged site leaves behind, for benchmarks of `reconcile status` and the
    /// console with a full store.
    struct FillStore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fill-store", abstract: "Journal a site's first install as done, every node ready.")

        @Option(help: "State database to write (created).") var state: String
        @OptionGroup var site: SiteDirectory

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let desired = try site.load()
            let plan = Planner.plan(desired: desired, observed: ObservedState())
            var statuses: [String: NodeStatus] = [:]
            var reports: [String: InstallReport] = [:]
            for node in desired.nodes {
                let image = desired.image(named: node.image.value)?.reference ?? node.image.value
                statuses[node.name] = NodeStatus(phase: .ready, image: image, services: node.serviceNames,
                                                 rack: node.rack.value)
                reports[node.name] = InstallReport(phase: .rebooting, image: image, percent: 100,
                                                   downloaded: 1 << 30, uploaded: 1 << 29, fromSeed: 1 << 26)
            }
            let store = try SQLiteStateStore(path: state)
            try await store.recordConverged(plan, statuses: statuses, reports: reports, commit: "bench", at: Date())
            print("journaled \(plan.actions.count) actions and \(statuses.count) nodes in \(state)")
        }
    }
}
