import Foundation
import GRDB
import RackswarmCore
import ReconcilerModel

/// The embedded state store: one SQLite file in WAL mode, written in transactions so that a process killed at
/// any moment leaves either the old row or the new one, never half of one.
public final class SQLiteStateStore: JournalTransitions {
    let database: DatabaseQueue

    /// Opens (creating if needed) the store at `path` and runs its migrations. A store written by a newer
    /// rackswarm (migrations this one does not know) is refused with both schema versions named.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        database = try DatabaseQueue(path: path, configuration: configuration)
        try database.read { db in try Self.checkVersion(db, path: path) }
        try Self.migrator.migrate(database)
    }

    init(readOnly path: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        database = try DatabaseQueue(path: path, configuration: configuration)
    }

    // MARK: Node status

    public func observedState() async throws -> ObservedState {
        try await database.read { db in
            var state = ObservedState()
            for row in try Row.fetchAll(db, sql: "SELECT \(Self.nodeColumns) FROM node_status") {
                let record = try Self.nodeRecord(row)
                state.nodes[record.name] = record.status
            }
            return state
        }
    }

    public func nodeRecord(_ node: String) async throws -> NodeRecord? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.nodeColumns) FROM node_status WHERE name = ?", arguments: [node])
                .map(Self.nodeRecord)
        }
    }

    public func record(_ status: NodeStatus, lastError: String?, for node: String, at time: Date) async throws {
        let services = try Self.encodeList(status.services)
        let drifted = try Self.encodeList(status.drifted)
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO node_status (name, rack, phase, image, services, drifted, last_error, last_seen)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET rack = excluded.rack, phase = excluded.phase,
                        image = excluded.image, services = excluded.services, drifted = excluded.drifted,
                        last_error = excluded.last_error, last_seen = excluded.last_seen
                    """,
                arguments: [node, status.rack, status.phase.rawValue, status.image, services, drifted, lastError,
                            time.timeIntervalSince1970])
        }
    }

    // MARK: Commit

    public func lastAppliedCommit() async throws -> String? {
        try await database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'last_applied_commit'")
        }
    }

    public func setLastAppliedCommit(_ commit: String, at time: Date) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO meta (key, value, updated_at) VALUES ('last_applied_commit', ?, ?)
                    ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                    """,
                arguments: [commit, time.timeIntervalSince1970])
        }
    }

    // MARK: Journal

    public func journalPlanned(_ actions: [PlannedAction], commit: String?, at time: Date) async throws -> [Int64] {
        try await database.write { db in
            var ids: [Int64] = []
            ids.reserveCapacity(actions.count)
            for action in actions {
                try db.execute(
                    sql: """
                        INSERT INTO journal (commit_sha, node, rack, wave, kind, destructive, detail, service, state,
                                             planned_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?)
                        """,
                    arguments: [commit, action.node, action.rack, action.wave, action.kind.rawValue,
                                action.destructive, action.detail, action.service, time.timeIntervalSince1970])
                ids.append(db.lastInsertedRowID)
            }
            return ids
        }
    }

    public func transition(_ id: Int64, from: [String], to: String, column: String, time: Date, error: String?)
        async throws
    {
        try await database.write { db in
            guard let current = try String.fetchOne(db, sql: "SELECT state FROM journal WHERE id = ?", arguments: [id])
            else { throw StateStoreError(.unknownJournalEntry, "no journal entry \(id)") }
            guard from.contains(current) else {
                throw StateStoreError(.invalidTransition, "journal entry \(id) is \(current); cannot become \(to)")
            }
            try db.execute(sql: "UPDATE journal SET state = ?, \(column) = ?, error = ? WHERE id = ?",
                           arguments: [to, time.timeIntervalSince1970, error, id])
        }
    }

    public func unfinishedActions() async throws -> [JournalEntry] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.journalColumns) FROM journal WHERE state = 'started' ORDER BY id")
                .map(Self.journalEntry)
        }
    }

    public func journal(node: String?) async throws -> [JournalEntry] {
        try await database.read { db in
            let rows = if let node {
                try Row.fetchAll(db, sql: "SELECT \(Self.journalColumns) FROM journal WHERE node = ? ORDER BY id",
                             arguments: [node])
            } else {
                try Row.fetchAll(db, sql: "SELECT \(Self.journalColumns) FROM journal ORDER BY id")
            }
            return try rows.map(Self.journalEntry)
        }
    }

    // MARK: Install progress

    public func recordInstall(_ report: InstallReport, for node: String, at time: Date, receivedBy: String?)
        async throws
    {
        // The inventory goes to its own table: the stored report stays flat (FlatReportReader's fast path).
        let inventory = try report.hardware.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        var flat = report
        flat.hardware = nil
        let text = String(decoding: try JSONEncoder().encode(flat), as: UTF8.self)
        try await database.write { db in
            if let inventory {
                try db.execute(
                    sql: """
                        INSERT INTO hardware_inventory (node, inventory, updated_at) VALUES (?, ?, ?)
                        ON CONFLICT(node) DO UPDATE SET inventory = excluded.inventory, updated_at = excluded.updated_at
                        """,
                    arguments: [node, inventory, time.timeIntervalSince1970])
            }
            try db.execute(
                sql: """
                    INSERT INTO install_progress (node, report, updated_at, received_by) VALUES (?, ?, ?, ?)
                    ON CONFLICT(node) DO UPDATE SET report = excluded.report, updated_at = excluded.updated_at,
                        received_by = excluded.received_by
                    """,
                arguments: [node, text, time.timeIntervalSince1970, receivedBy])
            try db.execute(
                sql: """
                    INSERT INTO install_sample (node, image, at, downloaded, uploaded, from_seed)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [node, report.image, time.timeIntervalSince1970, report.downloaded, report.uploaded,
                            report.fromSeed])
            try db.execute(sql: "DELETE FROM install_sample WHERE at < ?",
                           arguments: [time.timeIntervalSince1970 - installSampleRetention])
        }
    }

    public func hardware(of node: String) async throws -> HardwareRecord? {
        try await database.read { db in
            let sql = "SELECT inventory, updated_at FROM hardware_inventory WHERE node = ?"
            guard let row = try Row.fetchOne(db, sql: sql, arguments: [node]) else { return nil }
            let text: String = row[0]
            let updated: Double = row[1]
            guard let inventory = try? JSONDecoder().decode(HardwareInventory.self, from: Data(text.utf8)) else {
                throw StateStoreError(.unreadable, "hardware inventory of \(node)")
            }
            return HardwareRecord(inventory: inventory, updatedAt: Date(timeIntervalSince1970: updated))
        }
    }

    public func installSamples(since: Date) async throws -> [InstallSample] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM install_sample WHERE at >= ? ORDER BY at, rowid",
                             arguments: [since.timeIntervalSince1970]).map { row in
                let at: Double = row["at"]
                return InstallSample(node: row["node"], image: row["image"], at: Date(timeIntervalSince1970: at),
                                     downloaded: row["downloaded"], uploaded: row["uploaded"],
                                     fromSeed: row["from_seed"])
            }
        }
    }

    // MARK: Operator actions

    public func suspendRack(_ rack: String, actor: String, remote: String?, at time: Date) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO rack_suspension (rack, actor, since) VALUES (?, ?, ?)",
                           arguments: [rack, actor, time.timeIntervalSince1970])
            try Self.audit(db, .suspendRack, target: rack, actor: actor, remote: remote, at: time)
        }
    }

    public func resumeRack(_ rack: String, actor: String, remote: String?, at time: Date) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM rack_suspension WHERE rack = ?", arguments: [rack])
            try Self.audit(db, .resumeRack, target: rack, actor: actor, remote: remote, at: time)
        }
    }

    public func suspendedRacks() async throws -> Set<String> {
        try await database.read { db in Set(try String.fetchAll(db, sql: "SELECT rack FROM rack_suspension")) }
    }

    public func rackSuspensions() async throws -> [RackSuspension] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rack_suspension ORDER BY rack").map { row in
                let since: Double = row["since"]
                return RackSuspension(rack: row["rack"], actor: row["actor"], since: Date(timeIntervalSince1970: since))
            }
        }
    }

    public func requestPass(actor: String, remote: String?, at time: Date) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO pass_request (id, actor, at) VALUES (1, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET actor = excluded.actor, at = excluded.at
                    """,
                arguments: [actor, time.timeIntervalSince1970])
            try Self.audit(db, .requestPass, target: nil, actor: actor, remote: remote, at: time)
        }
    }

    public func passRequest() async throws -> PassRequest? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM pass_request WHERE id = 1").map { row in
                let at: Double = row["at"]
                return PassRequest(actor: row["actor"], at: Date(timeIntervalSince1970: at))
            }
        }
    }

    public func clearPassRequest(through time: Date) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM pass_request WHERE id = 1 AND at <= ?",
                           arguments: [time.timeIntervalSince1970])
        }
    }

    public func operatorActions() async throws -> [OperatorAction] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM operator_action ORDER BY id").map { row in
                let kindText: String = row["kind"]
                guard let kind = OperatorAction.Kind(rawValue: kindText) else {
                    throw StateStoreError(.unreadable, "operator action of unknown kind '\(kindText)'")
                }
                let at: Double = row["at"]
                return OperatorAction(id: row["id"], actor: row["actor"], kind: kind, target: row["target"],
                                      remote: row["remote"], at: Date(timeIntervalSince1970: at))
            }
        }
    }

    private static func audit(_ db: Database, _ kind: OperatorAction.Kind, target: String?, actor: String,
                              remote: String?, at time: Date) throws {
        try db.execute(
            sql: "INSERT INTO operator_action (actor, kind, target, remote, at) VALUES (?, ?, ?, ?, ?)",
            arguments: [actor, kind.rawValue, target, remote, time.timeIntervalSince1970])
    }

    public func installProgress() async throws -> [String: InstallProgress] {
        try await database.read { db in
            var progress: [String: InstallProgress] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT \(Self.installColumns) FROM install_progress")
            while let row = try rows.next() {
                progress[row[0]] = try Self.installProgress(row)
            }
            return progress
        }
    }

    public func installProgress(of node: String) async throws -> InstallProgress? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.installColumns) FROM install_progress WHERE node = ?",
                             arguments: [node]).map(Self.installProgress)
        }
    }

    /// What `installProgress(_:)` reads of an `install_progress` row.
    static let installColumns = "node, report, updated_at, received_by"

    /// A row of `installColumns`.
    static func installProgress(_ row: Row) throws -> InstallProgress {
        let text: String = row[1]
        let updated: Double = row[2]
        guard let report = FlatReportReader.report(text)
                ?? (try? JSONDecoder().decode(InstallReport.self, from: Data(text.utf8))) else {
            throw StateStoreError(.unreadable, "install report of \(row[0] as String? ?? "?")")
        }
        return InstallProgress(report: report, updatedAt: Date(timeIntervalSince1970: updated),
                               receivedBy: row[3] as String?)
    }

    // MARK: Remembered nodes

    public func remember(_ node: RememberedNode, at time: Date) async throws {
        let spec = String(decoding: try JSONEncoder().encode(node), as: UTF8.self)
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO remembered_node (name, spec, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
                    """,
                arguments: [node.name, spec, time.timeIntervalSince1970])
        }
    }

    public func rememberedNodes() async throws -> [String: RememberedNode] {
        try await database.read { db in
            var nodes: [String: RememberedNode] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, spec FROM remembered_node") {
                let spec: String = row["spec"]
                guard let node = try? JSONDecoder().decode(RememberedNode.self, from: Data(spec.utf8)) else {
                    throw StateStoreError(.unreadable, "remembered node \(row["name"] as String? ?? "?")")
                }
                nodes[node.name] = node
            }
            return nodes
        }
    }

    /// SQLite's own consistency check; "ok" when the file is sound.
    public func integrityCheck() async throws -> String {
        try await database.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }
}
