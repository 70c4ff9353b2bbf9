import Foundation
import PostgresNIO
import RackswarmCore
import ReconcilerModel
import ReconcilerStore

/// `reconcile store migrate`: a whole store copied in, ids and times kept, in one transaction.
extension PostgresStateStore {
    /// Writes `snapshot` into this (empty) database in one transaction: all of it or nothing. A database that
    /// holds anything already is refused. Identity counters continue after the copied ids.
    public func load(_ snapshot: StoreSnapshot) async throws {
        try await transaction { [self] connection in
            try await connection.query("LOCK TABLE journal, node_status IN EXCLUSIVE MODE", logger: self.logger)
            let used = try await connection.query("""
                SELECT (SELECT count(*) FROM journal) + (SELECT count(*) FROM node_status)
                    + (SELECT count(*) FROM operator_action) + (SELECT count(*) FROM meta)
                """, logger: self.logger).collect().first?.decode(Int64.self) ?? 0
            guard used == 0 else {
                throw StateStoreError(.invalidTransition, "the PostgreSQL database is not empty; nothing was copied")
            }
            try await loadNodes(snapshot, connection)
            try await loadJournal(snapshot.journal, connection)
            try await loadRest(snapshot, connection)
        }
    }

    /// Records many nodes' statuses in one statement (imports and benchmarks; a pass records node by node).
    public func recordStatuses(_ statuses: [String: NodeStatus], at time: Date) async throws {
        let nodes = statuses.sorted { $0.key < $1.key }.map {
            NodeRecord(name: $0.key, status: $0.value, lastError: nil, lastSeen: time)
        }
        try await transaction { [self] connection in
            try await connection.query("DELETE FROM node_status WHERE name = ANY(\(nodes.map(\.name)))",
                                       logger: self.logger)
            try await loadNodes(StoreSnapshot(nodes: nodes), connection)
        }
    }

    private func loadNodes(_ snapshot: StoreSnapshot, _ connection: PostgresConnection) async throws {
        let nodes = snapshot.nodes
        try await connection.query("""
            INSERT INTO node_status (name, rack, phase, image, services, drifted, last_error, last_seen)
            SELECT name, NULLIF(rack, ''), phase, NULLIF(image, ''), services, drifted, NULLIF(last_error, ''), seen
            FROM unnest(\(nodes.map(\.name)), \(nodes.map { $0.status.rack ?? "" }),
                        \(nodes.map(\.status.phase.rawValue)), \(nodes.map { $0.status.image ?? "" }),
                        \(try nodes.map { try StoredText.encodeList($0.status.services) }),
                        \(try nodes.map { try StoredText.encodeList($0.status.drifted) }),
                        \(nodes.map { $0.lastError ?? "" }), \(nodes.map(\.lastSeen.timeIntervalSince1970)))
                 AS n(name, rack, phase, image, services, drifted, last_error, seen)
            """, logger: self.logger)
        let installs = snapshot.installs.sorted { $0.key < $1.key }
        try await connection.query("""
            INSERT INTO install_progress (node, report, updated_at, received_by)
            SELECT node, report, updated_at, NULLIF(received_by, '')
            FROM unnest(\(installs.map(\.key)),
                        \(try installs.map { try StoredText.encodeReport($0.value.report) }),
                        \(installs.map(\.value.updatedAt.timeIntervalSince1970)),
                        \(installs.map { $0.value.receivedBy ?? "" }))
                 AS i(node, report, updated_at, received_by)
            """, logger: self.logger)
        let samples = snapshot.samples
        try await connection.query("""
            INSERT INTO install_sample (node, image, at, downloaded, uploaded, from_seed)
            SELECT * FROM unnest(\(samples.map(\.node)), \(samples.map(\.image)),
                                 \(samples.map(\.at.timeIntervalSince1970)), \(samples.map(\.downloaded)),
                                 \(samples.map(\.uploaded)), \(samples.map(\.fromSeed)))
            """, logger: self.logger)
        for (node, record) in snapshot.hardware.sorted(by: { $0.key < $1.key }) {
            let inventory = String(decoding: try JSONEncoder().encode(record.inventory), as: UTF8.self)
            try await connection.query("""
                INSERT INTO hardware_inventory (node, inventory, updated_at)
                VALUES (\(node), \(inventory), \(record.updatedAt.timeIntervalSince1970))
                """, logger: self.logger)
        }
        for node in snapshot.remembered {
            let spec = String(decoding: try JSONEncoder().encode(node), as: UTF8.self)
            try await connection.query(
                "INSERT INTO remembered_node (name, spec, updated_at) VALUES (\(node.name), \(spec), 0)",
                logger: self.logger)
        }
    }

    /// The journal with its ids; empty strings and NaN stand for absent values in the arrays (postgres-nio binds
    /// no arrays of optionals), and neither occurs in a real entry.
    private func loadJournal(_ journal: [JournalEntry], _ connection: PostgresConnection) async throws {
        guard !journal.isEmpty else { return }
        let nan = Double.nan
        try await connection.query("""
            INSERT INTO journal (id, commit_sha, node, rack, wave, kind, destructive, detail, service, state, error,
                                 planned_at, started_at, finished_at)
            OVERRIDING SYSTEM VALUE
            SELECT id, NULLIF(commit_sha, ''), node, rack, wave, kind, destructive, detail, NULLIF(service, ''),
                   state, NULLIF(error, ''), planned_at, NULLIF(started_at, 'NaN'), NULLIF(finished_at, 'NaN')
            FROM unnest(\(journal.map(\.id)), \(journal.map { $0.commit ?? "" }), \(journal.map(\.action.node)),
                        \(journal.map(\.action.rack)), \(journal.map(\.action.wave)),
                        \(journal.map(\.action.kind.rawValue)), \(journal.map(\.action.destructive)),
                        \(journal.map(\.action.detail)), \(journal.map { $0.action.service ?? "" }),
                        \(journal.map(\.state.rawValue)), \(journal.map { $0.error ?? "" }),
                        \(journal.map(\.plannedAt.timeIntervalSince1970)),
                        \(journal.map { $0.startedAt?.timeIntervalSince1970 ?? nan }),
                        \(journal.map { $0.finishedAt?.timeIntervalSince1970 ?? nan }))
                 AS j(id, commit_sha, node, rack, wave, kind, destructive, detail, service, state, error,
                      planned_at, started_at, finished_at)
            """, logger: self.logger)
        try await connection.query(
            "SELECT setval(pg_get_serial_sequence('journal', 'id'), (SELECT max(id) FROM journal))",
            logger: self.logger)
    }

    private func loadRest(_ snapshot: StoreSnapshot, _ connection: PostgresConnection) async throws {
        if let commit = snapshot.commit {
            try await connection.query(
                "INSERT INTO meta (key, value, updated_at) VALUES ('last_applied_commit', \(commit), 0)",
                logger: self.logger)
        }
        for suspension in snapshot.suspensions {
            try await connection.query("""
                INSERT INTO rack_suspension (rack, actor, since)
                VALUES (\(suspension.rack), \(suspension.actor), \(suspension.since.timeIntervalSince1970))
                """, logger: self.logger)
        }
        for action in snapshot.audit {
            try await connection.query("""
                INSERT INTO operator_action (id, actor, kind, target, remote, at) OVERRIDING SYSTEM VALUE
                VALUES (\(action.id), \(action.actor), \(action.kind.rawValue), \(action.target), \(action.remote),
                        \(action.at.timeIntervalSince1970))
                """, logger: self.logger)
        }
        if !snapshot.audit.isEmpty {
            try await connection.query("""
                SELECT setval(pg_get_serial_sequence('operator_action', 'id'), (SELECT max(id) FROM operator_action))
                """, logger: self.logger)
        }
        if let request = snapshot.passRequest {
            try await connection.query("""
                INSERT INTO pass_request (id, actor, at)
                VALUES (1, \(request.actor), \(request.at.timeIntervalSince1970))
                """, logger: self.logger)
        }
    }
}
