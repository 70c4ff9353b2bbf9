import Drivers
import Foundation
import MemberwiseInit
import Reconciler

/// The commit being converged.
@PublicMemberwiseInit
public struct CommitInfo: Sendable, Hashable, Codable {
    public var sha: String
    public var author: String?
    /// The commit's summary line.
    public var message: String?
}

/// The desired state the console shows, and where it came from.
@PublicMemberwiseInit
public struct ConsoleSite: Sendable {
    public var desired: DesiredState
    /// Nil for a site read from a plain directory.
    public var commit: CommitInfo?
    /// The site's directory, to size image files named by a relative path; nil when unknown.
    public var directory: String?
    /// Why the newest commit drives nothing (`commit 1a2b3c4 is not signed by a trusted key`); nil when it may.
    public var blocked: String?
}

/// What the console reads. `reconcile console` implements it over a repo and a state database; `reconcile apply`
/// implements it over the loop's current site and store.
public protocol ConsoleDataSource: Sendable {
    /// The state store: node records, journal, install reports, suspensions, the operator audit.
    var store: any StateStore { get }
    /// The desired state being converged now.
    func site() async throws -> ConsoleSite
    /// The pending plan: what a `--dry-run` pass would do now.
    func pendingPlan(for site: ConsoleSite) async throws -> Plan
    /// A node's power state as last observed from its BMC (`on`, `off`), nil when unknown.
    func powerState(node: String) async -> String?
    /// On a store several reconcilers share: which reconciler holds each rack now (a rack nobody holds is absent).
    /// Nil when one reconciler holds the whole site.
    func rackHolders() async throws -> [String: String]?
    /// On a shared store: the address each held rack's holder serves its nodes at (`http://HOST:PORT`).
    func rackServers() async throws -> [String: String]?
}

extension ConsoleDataSource {
    public func rackServers() async throws -> [String: String]? { nil }

    /// The planner over the store's observed state, as `reconcile --dry-run` would plan, leaving out the racks
    /// an operator suspended, with the actions a closed maintenance window holds marked, and why nothing runs when
    /// the newest commit is refused.
    public func pendingPlan(for site: ConsoleSite) async throws -> Plan {
        let now = Date()
        var plan = MaintenanceGate(site.desired, at: now).marking(
            Planner.plan(desired: site.desired, observed: try await store.observedState(),
                         policy: .init(suspendedRacks: try await store.suspendedRacks())), at: now)
        plan.blocked = site.blocked
        return plan
    }

    public func powerState(node: String) async -> String? { nil }

    public func rackHolders() async throws -> [String: String]? { nil }
}

/// Everything one page needs, read once per request so a page is consistent with itself.
struct ConsoleSnapshot: Sendable {
    var site: ConsoleSite
    /// Per node: its record, latest journal entries (the whole journal of `fullJournalOf`) and install report.
    var nodes: [String: NodeOverview]
    var suspensions: [RackSuspension]
    var passRequest: PassRequest?
    var now: Date
    /// Which reconciler holds each rack, on a shared store; nil with one reconciler.
    var holders: [String: String]? = nil
    /// The address each held rack's holder serves its nodes at, on a shared store.
    var servers: [String: String]? = nil

    var desired: DesiredState { site.desired }

    /// Reads the site and the store: every node's record and latest journal entries (what its activity needs),
    /// and the whole journal of `fullJournalOf`, the node a page shows.
    /// `cache` keeps the overviews between requests while the store does not change.
    static func read(from source: any ConsoleDataSource, cache: OverviewCache? = nil, now: Date = Date(),
                     fullJournalOf node: String? = nil) async throws -> ConsoleSnapshot
    {
        let site = try await source.site()
        let store = source.store
        var nodes = if let cache { try await cache.overviews(of: store) } else { try await store.nodeOverviews() }
        if let node { nodes[node, default: NodeOverview()].journal = try await store.journal(node: node) }
        return ConsoleSnapshot(
            site: site, nodes: nodes, suspensions: try await store.rackSuspensions(),
            passRequest: try await store.passRequest(), now: now, holders: try await source.rackHolders(),
            servers: try await source.rackServers())
    }

    func activity(_ node: String) -> NodeActivity {
        NodeActivity(node: node, overview: nodes[node])
    }

    func record(_ node: String) -> NodeRecord? { nodes[node]?.record }

    func install(_ node: String) -> InstallProgress? { nodes[node]?.install }

    /// Every stored node record.
    var records: [NodeRecord] { nodes.values.compactMap(\.record) }

    /// Every node's latest install report, by node.
    var installs: [String: InstallProgress] { nodes.compactMapValues(\.install) }

    /// Desired nodes sorted by rack then name.
    var sortedNodes: [Node] {
        let nodes = desired.nodes
        return sortedNodeIndices.map { nodes[$0] }
    }

    /// The indices in `desired.nodes` of the nodes sorted by rack then name (no node copied).
    var sortedNodeIndices: [Int] {
        let nodes = desired.nodes
        return nodes.indices.sorted { a, b in
            let left = nodes[a]
            let right = nodes[b]
            return left.rack.value != right.rack.value ? left.rack.value < right.rack.value : left.name < right.name
        }
    }

    /// The racks in the order the site lists them, plus any rack a node names that has no document (in the
    /// order of `sortedNodes`, that is by name).
    var rackNames: [String] {
        let names = desired.racks.map(\.name)
        let undocumented = Set(desired.nodes.map(\.rack.value)).subtracting(names)
        return names + undocumented.sorted()
    }

    func isSuspended(_ rack: String) -> Bool { suspensions.contains { $0.rack == rack } }

    /// The image reference (`name@version`) a node should run.
    func wantedImage(_ node: Node) -> String {
        desired.image(named: node.image.value)?.reference ?? node.image.value
    }
}

/// A data source made of closures, for a process that already holds the site and the store (`reconcile apply`
/// mounting the console on its own server).
public struct ClosureConsoleSource: ConsoleDataSource {
    public let store: any StateStore
    private let currentSite: @Sendable () async throws -> ConsoleSite
    private let power: @Sendable (String) async -> String?
    private let holders: @Sendable () async throws -> [String: String]?
    private let servers: @Sendable () async throws -> [String: String]?

    /// `site` yields the desired state being converged now; `power` a node's last observed power state;
    /// `holders` which reconciler holds each rack (nil: one reconciler holds the site).
    public init(store: any StateStore, site: @escaping @Sendable () async throws -> ConsoleSite,
                power: @escaping @Sendable (String) async -> String? = { _ in nil },
                holders: @escaping @Sendable () async throws -> [String: String]? = { nil },
                servers: @escaping @Sendable () async throws -> [String: String]? = { nil }) {
        self.servers = servers
        self.store = store
        currentSite = site
        self.power = power
        self.holders = holders
    }

    public func rackHolders() async throws -> [String: String]? { try await holders() }

    public func rackServers() async throws -> [String: String]? { try await servers() }

    public func site() async throws -> ConsoleSite { try await currentSite() }

    public func powerState(node: String) async -> String? { await power(node) }
}
