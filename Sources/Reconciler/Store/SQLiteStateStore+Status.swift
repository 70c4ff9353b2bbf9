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
        try forEachNodeRecord(db) { records[$0.name] = $0 }
        return records
    }

    private static func forEachNodeRecord(_ db: Database, changedAfter position: Int64? = nil,
                                          _ body: (NodeRecord) -> Void) throws {
        let (from, arguments) = scoped("node_status s", key: "s.name", changedAfter: position)
        let rows = try Row.fetchCursor(db, sql: "SELECT \(columns(nodeColumns, of: "s")) \(from)",
                                       arguments: arguments)
        while let row = try rows.next() { body(try nodeRecord(row)) }
    }

    /// `FROM table [joins] [WHERE condition]`, `table` aliased and `key` its node name, over every row (after nil)
    /// or over the rows of the nodes written after the change feed's `position` (`node_change` first, then each
    /// node's rows by their key), with the arguments it takes.
    private static func scoped(_ table: String, key: String, joins: String = "", where condition: String? = nil,
                               changedAfter position: Int64?) -> (sql: String, arguments: StatementArguments) {
        guard let position else {
            return ("FROM \(table) \(joins)" + (condition.map { " WHERE \($0)" } ?? ""), [])
        }
        return ("FROM node_change c JOIN \(table) ON \(key) = c.node \(joins) WHERE c.seq > ?"
                    + (condition.map { " AND \($0)" } ?? ""), [position])
    }

    /// `columns` (as `nodeColumns` lists them) each qualified with `alias`.
    private static func columns(_ columns: String, of alias: String) -> String {
        columns.split(separator: ", ").map { "\(alias).\($0)" }.joined(separator: ", ")
    }

    /// Per node, its latest started entry and its latest entry (what `NodeActivity` reads), oldest first: one
    /// row of `journal_latest` per node and the entries it points at, instead of every entry ever journaled.
    public func latestJournalEntries() async throws -> [String: [JournalEntry]] {
        try await database.read { db in try Self.latestJournalEntries(db) }
    }

    public func nodeOverviews() async throws -> [String: NodeOverview] {
        try await database.read { db in
            try Self.nodeOverviews(db, changedAfter: nil, count: try Int.fetchOne(db, sql: """
                SELECT max((SELECT COUNT(*) FROM node_status), (SELECT COUNT(*) FROM journal_latest))
                """) ?? 0)
        }
    }

    /// From `node_change`, the feed its triggers keep. Every node when more than a third of them were written
    /// (a node looked up by key in each table costs about three times its share of a whole scan: at 100,000 nodes
    /// all written, 1.4 CPU-s patched against 0.67 s read whole), or when the position is past the feed's end (the
    /// file was replaced by an older copy).
    public func nodeOverviews(changedAfter position: Int64?) async throws -> NodeOverviewChanges? {
        try await database.read { db in
            let end = try Int64.fetchOne(db, sql: "SELECT coalesce(max(seq), 0) FROM node_change") ?? 0
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM node_status") ?? 0
            let changed = try position.map {
                try String.fetchAll(db, sql: "SELECT node FROM node_change WHERE seq > ?", arguments: [$0])
            }
            guard let position, let changed, position <= end, changed.count * 3 <= count else {
                return NodeOverviewChanges(position: end,
                                           overviews: try Self.nodeOverviews(db, changedAfter: nil, count: count))
            }
            return NodeOverviewChanges(
                position: end, overviews: try Self.nodeOverviews(db, changedAfter: position, count: changed.count),
                changed: changed)
        }
    }

    /// Every node's overview, or those of the nodes written after the feed's `position`; straight into one
    /// dictionary, sized once for about `count` nodes: reading the three into dictionaries of their own and
    /// joining them hashed every node name three more times.
    private static func nodeOverviews(_ db: Database, changedAfter position: Int64?, count: Int) throws
        -> [String: NodeOverview]
    {
        var overviews: [String: NodeOverview] = [:]
        overviews.reserveCapacity(count)
        try forEachNodeRecord(db, changedAfter: position) { overviews[$0.name] = NodeOverview(record: $0) }
        try forEachLatestJournalEntry(db, changedAfter: position) {
            overviews[$0.action.node, default: NodeOverview()].journal.append($0)
        }
        let (from, arguments) = scoped("install_progress i", key: "i.node", changedAfter: position)
        let installs = try Row.fetchCursor(db, sql: "SELECT i.node, i.report, i.updated_at, i.received_by \(from)",
                                           arguments: arguments)
        while let row = try installs.next() {
            overviews[row[0], default: NodeOverview()].install = try installProgress(row)
        }
        return overviews
    }

    /// `PRAGMA data_version` moves when another connection (another process: `reconcile apply` beside
    /// `reconcile console`) commits; the connection's total changes move with its own writes, which the pragma
    /// does not count.
    public func changeToken() async throws -> StoreChangeToken? {
        try await database.read { db in
            StoreChangeToken(others: try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0,
                             own: Int64(db.totalChangesCount))
        }
    }

    private static func latestJournalEntries(_ db: Database) throws -> [String: [JournalEntry]] {
        var entries: [String: [JournalEntry]] = [:]
        entries.reserveCapacity(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal_latest") ?? 0)
        try forEachLatestJournalEntry(db) { entries[$0.action.node, default: []].append($0) }
        return entries
    }

    /// Each node's latest started entry (when not its latest entry, it is older), then every node's latest
    /// entry: appended in this order, a node's entries come oldest first. Two joins on the primary key; one
    /// `IN (… UNION …) ORDER BY id` built a temporary B-tree of every id first.
    private static func forEachLatestJournalEntry(_ db: Database, changedAfter position: Int64? = nil,
                                                  _ body: (JournalEntry) -> Void) throws {
        let selected = columns(journalColumns, of: "j")
        for (pointer, condition) in [("l.started_id", "l.started_id != l.latest_id"), ("l.latest_id", nil)] {
            let (from, arguments) = scoped("journal_latest l", key: "l.node",
                                           joins: "JOIN journal j ON j.id = \(pointer)", where: condition,
                                           changedAfter: position)
            let rows = try Row.fetchCursor(db, sql: "SELECT \(selected) \(from)", arguments: arguments)
            while let row = try rows.next() { body(try journalEntry(row)) }
        }
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
