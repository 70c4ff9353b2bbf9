import Foundation
import MemberwiseInit
import RackswarmCore
import ReconcilerModel

/// Where rackswarm keeps what it observed and what it did. The planner never sees this; the loop reads the
/// observed state from it and journals every action through it.
///
/// The embedded default is SQLite (`SQLiteStateStore`); a shared PostgreSQL backend for several reconcilers fits
/// behind the same protocol.
public protocol StateStore: Sendable {
    func observedState() async throws -> ObservedState
    /// Records a node's status (and its last error, nil to clear) in one transaction.
    func record(_ status: NodeStatus, lastError: String?, for node: String, at time: Date) async throws
    func nodeRecord(_ node: String) async throws -> NodeRecord?
    /// Every stored node record, by node name: one read for a view of the whole site.
    func nodeRecords() async throws -> [String: NodeRecord]

    func lastAppliedCommit() async throws -> String?
    func setLastAppliedCommit(_ commit: String, at time: Date) async throws

    /// Journals a plan's actions as planned, all or none; returns their ids in order.
    func journalPlanned(_ actions: [PlannedAction], commit: String?, at time: Date) async throws -> [Int64]
    func journalStarted(_ id: Int64, at time: Date) async throws
    func journalFinished(_ id: Int64, at time: Date) async throws
    func journalFailed(_ id: Int64, error: String, at time: Date) async throws
    /// Actions that were started and never finished or failed: after a crash, the next run looks here first.
    func unfinishedActions() async throws -> [JournalEntry]
    /// The journal, oldest first, optionally for one node.
    func journal(node: String?) async throws -> [JournalEntry]
    /// Per node, the entries `NodeActivity` reads: its latest started entry and its latest entry, oldest first.
    /// A status view of the whole site reads this, not the whole journal.
    func latestJournalEntries() async throws -> [String: [JournalEntry]]
    /// Per node, everything a status view of the whole site reads about it (`NodeOverview`: its record, its
    /// `latestJournalEntries`, its latest install report), read in one transaction so the view is consistent.
    /// Every node with any of the three is present. A store keeps the latest entries per node as it journals
    /// (SQLite: the `journal_latest` table its triggers maintain), so this costs one row per node and table
    /// however long the journal; the default composes the three reads.
    func nodeOverviews() async throws -> [String: NodeOverview]
    /// A value that changes whenever a write to the store may have changed what it holds, by this process or any
    /// other; nil when the store cannot tell. A view may keep what it read while the token stays the same (the
    /// console keeps `nodeOverviews` between requests). Read it before what it guards: a write in between then
    /// makes the next token differ, never the other way round.
    func changeToken() async throws -> StoreChangeToken?
    /// The node overviews with the position of the store's change feed, for a view that keeps them between reads:
    /// after nil, every node (as `nodeOverviews`); after a position an earlier answer gave, only the nodes written
    /// since (a store may answer every node instead). One transaction. Nil when the store keeps no feed: the view
    /// reads `nodeOverviews` again.
    func nodeOverviews(changedAfter position: Int64?) async throws -> NodeOverviewChanges?

    /// Keeps the latest install report of a node (it replaces the one before), with the reconciler that received
    /// it (`receivedBy`, its shard id; nil: not told), and appends its byte counters to the install samples (kept
    /// for `installSampleRetention`).
    func recordInstall(_ report: InstallReport, for node: String, at time: Date, receivedBy: String?) async throws
    /// The latest install report of every node that has sent one.
    func installProgress() async throws -> [String: InstallProgress]
    /// The latest install report of one node, nil before its first.
    func installProgress(of node: String) async throws -> InstallProgress?
    /// The hardware inventory the node's install environment last reported (with its `booted` report), nil before
    /// the first. `recordInstall` keeps it apart from the install report, which it replaces at every phase.
    func hardware(of node: String) async throws -> HardwareRecord?
    /// Install samples at or after `since`, oldest first.
    func installSamples(since: Date) async throws -> [InstallSample]

    /// Suspends a rack and audits who did it, in one transaction. Suspending a suspended rack keeps its `since`.
    func suspendRack(_ rack: String, actor: String, remote: String?, at time: Date) async throws
    /// Resumes a rack and audits who did it, in one transaction.
    func resumeRack(_ rack: String, actor: String, remote: String?, at time: Date) async throws
    /// Racks on whose nodes no new action may start.
    func suspendedRacks() async throws -> Set<String>
    /// The suspended racks with who suspended them and when, by rack name.
    func rackSuspensions() async throws -> [RackSuspension]
    /// Asks the loop for a pass now and audits who did it, in one transaction. A pending request is replaced.
    func requestPass(actor: String, remote: String?, at time: Date) async throws
    /// The pending pass request, if any.
    func passRequest() async throws -> PassRequest?
    /// Clears the pending pass request if it was made at or before `time` (a request made while the pass ran
    /// stays pending). The loop calls this when it starts the pass it was asked for.
    func clearPassRequest(through time: Date) async throws
    /// Audited operator actions, oldest first.
    func operatorActions() async throws -> [OperatorAction]

    /// Keeps what is needed to decommission a node later (replacing what was kept before).
    func remember(_ node: RememberedNode, at time: Date) async throws
    /// The nodes kept by `remember`, by name.
    func rememberedNodes() async throws -> [String: RememberedNode]
}

extension StateStore {
    /// Records a report without saying which reconciler received it.
    public func recordInstall(_ report: InstallReport, for node: String, at time: Date) async throws {
        try await recordInstall(report, for: node, at: time, receivedBy: nil)
    }

    /// A store that cannot tell when it changed: every view reads afresh.
    public func changeToken() async throws -> StoreChangeToken? { nil }

    /// A store without a change feed.
    public func nodeOverviews(changedAfter position: Int64?) async throws -> NodeOverviewChanges? { nil }

    /// One `nodeRecord` per observed node; stores that can read them in one go do.
    public func nodeRecords() async throws -> [String: NodeRecord] {
        var records: [String: NodeRecord] = [:]
        for name in try await observedState().nodes.keys {
            if let record = try await nodeRecord(name) { records[name] = record }
        }
        return records
    }

    /// The three whole-site reads, joined by node; stores that can read them in one transaction do.
    public func nodeOverviews() async throws -> [String: NodeOverview] {
        NodeOverview.join(records: try await nodeRecords(), journal: try await latestJournalEntries(),
                          installs: try await installProgress())
    }

    /// From the whole journal; stores that can pick the entries out directly do.
    public func latestJournalEntries() async throws -> [String: [JournalEntry]] {
        Dictionary(grouping: try await journal(node: nil), by: \.action.node).mapValues(JournalEntry.latest(of:))
    }
}

extension JournalEntry {
    /// Of one node's journal (oldest first), what `NodeActivity` reads: the latest started entry and the latest
    /// entry, oldest first (one entry when they are the same).
    public static func latest(of journal: [JournalEntry]) -> [JournalEntry] {
        guard let last = journal.last else { return [] }
        guard let started = journal.last(where: { $0.state == .started }), started.id != last.id else { return [last] }
        return [started, last]
    }
}

/// `StateStore.changeToken`: equal tokens from one store mean nothing was written in between.
@PublicMemberwiseInit
public struct StoreChangeToken: Sendable, Hashable {
    /// Commits by other connections, as the store's own connection counts them (SQLite: `PRAGMA data_version`).
    public var others: Int64
    /// Rows this connection changed since it opened (SQLite: `sqlite3_total_changes`).
    public var own: Int64
}

/// An answer of `StateStore.nodeOverviews(changedAfter:)`.
@PublicMemberwiseInit
public struct NodeOverviewChanges: Sendable {
    /// The feed's position at the read: the next read asks for what changed after it.
    public var position: Int64
    /// Every node's overview, or with `changed`, those of the changed nodes that have one.
    public var overviews: [String: NodeOverview]
    /// The nodes written after the position asked for, those left with no overview too (their rows were
    /// deleted); nil when `overviews` holds every node.
    public var changed: [String]?

    /// Brings `kept`, the overviews at the position asked for, to this read's position.
    public func apply(to kept: inout [String: NodeOverview]) {
        guard let changed else {
            kept = overviews
            return
        }
        for node in changed { kept[node] = overviews[node] }
    }
}

/// What a status view of the whole site reads about one node (`StateStore.nodeOverviews`).
@PublicMemberwiseInit
public struct NodeOverview: Sendable, Hashable {
    public var record: NodeRecord?
    /// Its latest started entry and its latest entry, oldest first (one when they are the same, none before any).
    public var journal: [JournalEntry] = []
    public var install: InstallProgress?

    /// Joins the three whole-site reads by node name.
    public static func join(records: [String: NodeRecord], journal: [String: [JournalEntry]],
                            installs: [String: InstallProgress]) -> [String: NodeOverview] {
        var overviews = records.mapValues { NodeOverview(record: $0) }
        for (node, entries) in journal { overviews[node, default: NodeOverview()].journal = entries }
        for (node, install) in installs { overviews[node, default: NodeOverview()].install = install }
        return overviews
    }
}

/// A node's latest install report and when it arrived.
@PublicMemberwiseInit
public struct InstallProgress: Sendable, Hashable, Codable {
    public var report: InstallReport
    public var updatedAt: Date
    /// The reconciler that received and recorded the report (its shard id), when the writer said.
    public var receivedBy: String? = nil
}

/// A node's latest hardware inventory and when it arrived.
@PublicMemberwiseInit
public struct HardwareRecord: Sendable, Hashable, Codable {
    public var inventory: HardwareInventory
    public var updatedAt: Date
}

/// A node's stored status with the bookkeeping around it.
@PublicMemberwiseInit
public struct NodeRecord: Sendable, Hashable, Codable {
    public var name: String
    public var status: NodeStatus
    public var lastError: String?
    public var lastSeen: Date
}

/// One action in the journal.
@PublicMemberwiseInit
public struct JournalEntry: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        case planned
        case started
        case finished
        case failed
    }

    public var id: Int64
    public var commit: String?
    public var action: PlannedAction
    public var state: State
    public var error: String?
    public var plannedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
}

/// A store error with intent.
public typealias StateStoreError = CodedError<StateStoreErrorCode>

/// What went wrong in the store.
public enum StateStoreErrorCode: String, ErrorCode {
    case unknownJournalEntry
    /// A transition the journal does not allow (finishing an action that never started, say).
    case invalidTransition
    case unreadable
    /// A shared store refused a journal write because this reconciler no longer holds the rack's lease (or holds
    /// it under a newer fencing token than the action started with): another reconciler owns the rack now.
    case leaseLost
    /// The store's server cannot be reached.
    case unavailable

    /// The next attempt may get through. A lost lease never reaches a retry: the executor gives the rack up first.
    public var intent: ErrorIntent { .transient }

    public static func describe(_ code: Self, detail: String) -> String { "state store: \(code.rawValue): \(detail)" }
}
