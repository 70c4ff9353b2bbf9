import Foundation
import ReconcilerModel

/// A store whose journal moves an entry from state to state with one checked update. The journal's three steps,
/// and the states each may leave from, are stated here once for every such store (SQLite, PostgreSQL).
public protocol JournalTransitions: StateStore {
    /// Moves entry `id` to state `to` when it is in one of `from`, stamping `column` with `time` and recording
    /// `error`; an unknown entry or another state is a `StateStoreError`.
    func transition(_ id: Int64, from: [String], to: String, column: String, time: Date, error: String?)
        async throws
}

extension JournalTransitions {
    public func journalStarted(_ id: Int64, at time: Date) async throws {
        try await transition(id, from: ["planned"], to: "started", column: "started_at", time: time, error: nil)
    }

    public func journalFinished(_ id: Int64, at time: Date) async throws {
        try await transition(id, from: ["started"], to: "finished", column: "finished_at", time: time, error: nil)
    }

    public func journalFailed(_ id: Int64, error: String, at time: Date) async throws {
        try await transition(id, from: ["planned", "started"], to: "failed", column: "finished_at", time: time,
                             error: error)
    }
}
