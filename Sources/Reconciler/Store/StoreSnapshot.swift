import Foundation
import RackswarmCore
import ReconcilerModel

/// Everything a state store holds, read through the `StateStore` protocol: what `reconcile store migrate` copies
/// from one store to another (SQLite to PostgreSQL), ids and times kept.
public struct StoreSnapshot: Sendable, Equatable {
    public var nodes: [NodeRecord]
    public var commit: String?
    public var journal: [JournalEntry]
    public var installs: [String: InstallProgress]
    public var samples: [InstallSample]
    public var suspensions: [RackSuspension]
    public var audit: [OperatorAction]
    public var remembered: [RememberedNode]
    public var passRequest: PassRequest?

    public init(nodes: [NodeRecord] = [], commit: String? = nil, journal: [JournalEntry] = [],
                installs: [String: InstallProgress] = [:], samples: [InstallSample] = [],
                suspensions: [RackSuspension] = [], audit: [OperatorAction] = [], remembered: [RememberedNode] = [],
                passRequest: PassRequest? = nil) {
        self.nodes = nodes
        self.commit = commit
        self.journal = journal
        self.installs = installs
        self.samples = samples
        self.suspensions = suspensions
        self.audit = audit
        self.remembered = remembered
        self.passRequest = passRequest
    }

    /// Reads every table of `store`, in a stable order (nodes and remembered nodes by name).
    public static func read(from store: any StateStore) async throws -> StoreSnapshot {
        StoreSnapshot(
            nodes: try await store.nodeRecords().values.sorted { $0.name < $1.name },
            commit: try await store.lastAppliedCommit(),
            journal: try await store.journal(node: nil),
            installs: try await store.installProgress(),
            samples: try await store.installSamples(since: .distantPast),
            suspensions: try await store.rackSuspensions(),
            audit: try await store.operatorActions(),
            remembered: try await store.rememberedNodes().values.sorted { $0.name < $1.name },
            passRequest: try await store.passRequest())
    }

    /// True when there is nothing in it: a store a migration may fill.
    public var isEmpty: Bool {
        nodes.isEmpty && commit == nil && journal.isEmpty && installs.isEmpty && samples.isEmpty
            && suspensions.isEmpty && audit.isEmpty && remembered.isEmpty && passRequest == nil
    }
}
