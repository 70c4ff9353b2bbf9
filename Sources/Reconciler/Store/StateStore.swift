import Drivers
import Foundation

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

    /// Keeps the latest install report of a node (it replaces the one before).
    func recordInstall(_ report: InstallReport, for node: String, at time: Date) async throws
    /// The latest install report of every node that has sent one.
    func installProgress() async throws -> [String: InstallProgress]
}

/// A node's latest install report and when it arrived.
public struct InstallProgress: Sendable, Hashable, Codable {
    public var report: InstallReport
    public var updatedAt: Date

    public init(report: InstallReport, updatedAt: Date) {
        self.report = report
        self.updatedAt = updatedAt
    }
}

/// A node's stored status with the bookkeeping around it.
public struct NodeRecord: Sendable, Hashable, Codable {
    public var name: String
    public var status: NodeStatus
    public var lastError: String?
    public var lastSeen: Date
}

/// One action in the journal.
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
public struct StateStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unknownJournalEntry
        /// A transition the journal does not allow (finishing an action that never started, say).
        case invalidTransition
        case unreadable
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "state store: \(code.rawValue): \(message)" }
}
