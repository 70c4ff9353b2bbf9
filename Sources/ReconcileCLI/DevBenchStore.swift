import CommandLineSupport
import ArgumentParser
import Foundation
import Logging
import Reconciler
import ReconcilerPostgres
import RackswarmCore

extension Dev {
    /// Times what a pass asks of the state store, on a generated site: the first install's plan journaled, and a
    /// no-op pass's reads and plan on a converged store; with `--shards`, the journal write rate several
    /// reconcilers sustain together on one PostgreSQL, each on the racks it holds. Prints JSON.
    struct BenchStore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-store", abstract: "Time a site's journal writes and no-op reads on a state store.")

        @OptionGroup var site: SiteDirectory
        @Option(help: "An empty state store: a SQLite path or postgres://… (see `apply --state`).") var state: String
        @Option(help: "Reconcilers writing at once for the write-rate figure (PostgreSQL; 0 skips it).")
        var shards: Int = 0
        @Option(help: .duration("How long the write-rate figure runs (e.g. 5s)."), transform: Quantity.durationFlag())
        var writeTime: Duration = .seconds(5)
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let desired = try site.load()
            let store = try await StateLocation.open(state, deadline: .seconds(3600))
            let clock = ContinuousClock()
            var start = clock.now
            let plan = Planner.plan(desired: desired, observed: ObservedState())
            let planSeconds = (clock.now - start).seconds
            start = clock.now
            _ = try await store.journalPlanned(plan.actions, commit: "bench", at: Date())
            let journalSeconds = (clock.now - start).seconds
            // The converged site, recorded node by node as passes would (in one transaction, to be quick).
            let converged = ObservedState().applying(plan, desired: desired)
            if let sqlite = store as? SQLiteStateStore {
                try await sqlite.recordConverged(Plan(), statuses: converged.nodes, reports: [:], commit: nil,
                                                 at: Date())
            } else if let postgres = store as? PostgresStateStore {
                try await postgres.recordStatuses(converged.nodes, at: Date())
            }
            start = clock.now
            let observed = try await store.observedState()
            let suspended = try await store.suspendedRacks()
            let noOp = Planner.plan(desired: desired, observed: observed, policy: .init(suspendedRacks: suspended))
            let noOpSeconds = (clock.now - start).seconds
            guard noOp.isEmpty else { throw ValidationError("the no-op plan has \(noOp.actions.count) actions") }
            var result: [String: Any] = [
                "benchmark": "store",
                "store": PostgresLocation.isPostgres(state) ? "postgresql" : "sqlite",
                "nodes": desired.nodes.count,
                "actions_first_install": plan.actions.count,
                "first_install_plan_seconds": planSeconds,
                "first_install_journal_seconds": journalSeconds,
                "noop_pass_seconds": noOpSeconds,
            ]
            if shards > 0, let postgres = store as? PostgresStateStore {
                let (transitions, elapsed) = try await writeRate(postgres, desired: desired)
                result["writers"] = shards
                result["journal_transitions"] = transitions
                result["journal_transitions_per_second"] = Double(transitions) / elapsed
            }
            (store as? PostgresStateStore)?.close()
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }

        /// `shards` reconcilers take their share of the racks by lease, then each journals actions on its racks
        /// (planned, started, finished: three fenced writes) for `writeTime`. Answers the transitions written.
        private func writeRate(_ shared: PostgresStateStore, desired: DesiredState) async throws -> (Int, Double) {
            let racks = Set(desired.racks.map(\.name))
            var keepers: [RackLeaseKeeper] = []
            for index in 0..<shards {
                let store = try await PostgresStateStore.connect(shared.location, shard: "bench-\(index)",
                                                                 deadline: .seconds(3600))
                keepers.append(RackLeaseKeeper(store: store, ttl: .seconds(60), address: nil,
                                               logger: Logger(label: "bench")))
            }
            for _ in 0..<2 { for keeper in keepers { _ = try await keeper.hold(racks) } }
            let nodesByRack = Dictionary(grouping: desired.nodes, by: \.rack.value)
            let seconds = writeTime.seconds
            let clock = ContinuousClock()
            let start = clock.now
            let total = try await withThrowingTaskGroup(of: Int.self) { group in
                for keeper in keepers {
                    let held = Array(try await keeper.hold(racks)).sorted()
                    let nodes = held.flatMap { nodesByRack[$0] ?? [] }
                    group.addTask {
                        var written = 0
                        var index = 0
                        while (clock.now - start).seconds < seconds, !nodes.isEmpty {
                            let node = nodes[index % nodes.count]
                            index += 1
                            let action = PlannedAction(node: node.name, rack: node.rack.value, wave: 1,
                                                       kind: .powerCycle, destructive: true, detail: "bench")
                            for id in try await keeper.store.journalPlanned([action], commit: "rate", at: Date()) {
                                try await keeper.store.journalStarted(id, at: Date())
                                try await keeper.store.journalFinished(id, at: Date())
                            }
                            written += 3
                        }
                        return written
                    }
                }
                return try await group.reduce(0, +)
            }
            let elapsed = (clock.now - start).seconds
            for keeper in keepers {
                try await keeper.store.leave()
                keeper.store.close()
            }
            return (total, elapsed)
        }
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
