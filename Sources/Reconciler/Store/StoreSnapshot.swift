import Foundation
import MemberwiseInit
import RackswarmCore
import ReconcilerModel

/// Everything a state store holds, read through the `StateStore` protocol: what `reconcile store migrate` copies
/// from one store to another (SQLite to PostgreSQL), ids and times kept.
@PublicMemberwiseInit
public struct StoreSnapshot: Sendable, Equatable {
    public var nodes: [NodeRecord] = []
    public var commit: String?
    public var journal: [JournalEntry] = []
    public var installs: [String: InstallProgress] = [:]
    public var samples: [InstallSample] = []
    public var suspensions: [RackSuspension] = []
    public var audit: [OperatorAction] = []
    public var remembered: [RememberedNode] = []
    public var passRequest: PassRequest?
    /// Each node's hardware inventory (from its install environment), by node.
    public var hardware: [String: HardwareRecord] = [:]

    /// Reads every table of `store`, in a stable order (nodes and remembered nodes by name).
    public static func read(from store: any StateStore) async throws -> StoreSnapshot {
        let nodes = try await store.nodeRecords().values.sorted { $0.name < $1.name }
        let installs = try await store.installProgress()
        // Inventories are kept per node: ask for every node the store knows of.
        var hardware: [String: HardwareRecord] = [:]
        for node in Set(nodes.map(\.name)).union(installs.keys) {
            hardware[node] = try await store.hardware(of: node)
        }
        return StoreSnapshot(
            nodes: nodes,
            commit: try await store.lastAppliedCommit(),
            journal: try await store.journal(node: nil),
            installs: installs,
            samples: try await store.installSamples(since: .distantPast),
            suspensions: try await store.rackSuspensions(),
            audit: try await store.operatorActions(),
            remembered: try await store.rememberedNodes().values.sorted { $0.name < $1.name },
            passRequest: try await store.passRequest(), hardware: hardware)
    }

    /// True when there is nothing in it: a store a migration may fill.
    public var isEmpty: Bool {
        nodes.isEmpty && commit == nil && journal.isEmpty && installs.isEmpty && samples.isEmpty
            && suspensions.isEmpty && audit.isEmpty && remembered.isEmpty && passRequest == nil && hardware.isEmpty
    }
}
