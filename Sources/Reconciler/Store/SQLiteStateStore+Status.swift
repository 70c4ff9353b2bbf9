import Foundation
import GRDB
import RackswarmCore
import ReconcilerModel

/// Whole-site reads for status views (`reconcile status`, the console): one query each, however many nodes and
/// however long the journal, where a view used to ask once per node or read the whole journal.
extension SQLiteStateStore {
    public func nodeRecords() async throws -> [String: NodeRecord] {
        try await database.read { db in try Self.nodeRecords(db) }
    }

    private static func nodeRecords(_ db: Database) throws -> [String: NodeRecord] {
        var records: [String: NodeRecord] = [:]
        // Sized once: grown row by row, a dictionary of 100,000 records was rehashed seventeen times.
        records.reserveCapacity(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM node_status") ?? 0)
        let rows = try Row.fetchCursor(db, sql: "SELECT \(nodeColumns) FROM node_status")
        while let row = try rows.next() {
            let record = try nodeRecord(row)
            records[record.name] = record
        }
        return records
    }

    /// Per node, its latest started entry and its latest entry (what `NodeActivity` reads), oldest first: one
    /// row of `journal_latest` per node and the entries it points at, instead of every entry ever journaled.
    public func latestJournalEntries() async throws -> [String: [JournalEntry]] {
        try await database.read { db in try Self.latestJournalEntries(db) }
    }

    public func nodeOverviews() async throws -> [String: NodeOverview] {
        try await database.read { db in
            var overviews = try Self.nodeRecords(db).mapValues { NodeOverview(record: $0) }
            for (node, entries) in try Self.latestJournalEntries(db) {
                overviews[node, default: NodeOverview()].journal = entries
            }
            let installs = try Row.fetchCursor(db, sql: "SELECT node, report, updated_at FROM install_progress")
            while let row = try installs.next() {
                overviews[row[0], default: NodeOverview()].install = try Self.installProgress(row)
            }
            return overviews
        }
    }

    private static func latestJournalEntries(_ db: Database) throws -> [String: [JournalEntry]] {
        var entries: [String: [JournalEntry]] = [:]
        entries.reserveCapacity(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal_latest") ?? 0)
        let rows = try Row.fetchCursor(db, sql: """
            SELECT \(journalColumns) FROM journal WHERE id IN (
                SELECT latest_id FROM journal_latest UNION SELECT started_id FROM journal_latest)
            ORDER BY id
            """)
        while let row = try rows.next() {
            let entry = try journalEntry(row)
            entries[entry.action.node, default: []].append(entry)
        }
        return entries
    }

    /// Stores what a converged site leaves behind in one transaction: `plan` journaled and finished, a status and
    /// a finished install report for every node in `statuses`. For imports and benchmarks
    /// (`reconcile dev fill-store`); a pass records node by node.
    public func recordConverged(_ plan: Plan, statuses: [String: NodeStatus], reports: [String: InstallReport],
                                commit: String?, at time: Date) async throws {
        let seconds = time.timeIntervalSince1970
        let encoder = JSONEncoder()
        try await database.write { db in
            for action in plan.actions {
                try db.execute(
                    sql: """
                        INSERT INTO journal (commit_sha, node, rack, wave, kind, destructive, detail, service, state,
                                             planned_at, started_at, finished_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'finished', ?, ?, ?)
                        """,
                    arguments: [commit, action.node, action.rack, action.wave, action.kind.rawValue,
                                action.destructive, action.detail, action.service, seconds, seconds, seconds])
            }
            for (node, status) in statuses {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO node_status
                            (name, rack, phase, image, services, drifted, last_error, last_seen)
                        VALUES (?, ?, ?, ?, ?, ?, NULL, ?)
                        """,
                    arguments: [node, status.rack, status.phase.rawValue, status.image,
                                try Self.encodeList(status.services), try Self.encodeList(status.drifted), seconds])
            }
            for (node, report) in reports {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO install_progress (node, report, updated_at) VALUES (?, ?, ?)",
                    arguments: [node, String(decoding: try encoder.encode(report), as: UTF8.self), seconds])
            }
        }
    }
}
