import Foundation
import PostgresNIO
import RackswarmCore
import ReconcilerModel
import ReconcilerStore

/// Operator actions (rack suspensions, pass requests), each audited in the transaction that makes it.
extension PostgresStateStore {
    public func suspendRack(_ rack: String, actor: String, remote: String?, at time: Date) async throws {
        try await transaction { [self] connection in
            try await connection.query("""
                INSERT INTO rack_suspension (rack, actor, since)
                VALUES (\(rack), \(actor), \(time.timeIntervalSince1970))
                ON CONFLICT (rack) DO NOTHING
                """, logger: self.logger)
            try await audit(connection, .suspendRack, target: rack, actor: actor, remote: remote, at: time)
        }
    }

    public func resumeRack(_ rack: String, actor: String, remote: String?, at time: Date) async throws {
        try await transaction { [self] connection in
            try await connection.query("DELETE FROM rack_suspension WHERE rack = \(rack)", logger: self.logger)
            try await audit(connection, .resumeRack, target: rack, actor: actor, remote: remote, at: time)
        }
    }

    public func suspendedRacks() async throws -> Set<String> {
        Set(try await rows("SELECT rack FROM rack_suspension").map { try $0.decode(String.self) })
    }

    public func rackSuspensions() async throws -> [RackSuspension] {
        try await rows("SELECT rack, actor, since FROM rack_suspension ORDER BY rack").map { row in
            let (rack, actor, since) = try row.decode((String, String, Double).self)
            return RackSuspension(rack: rack, actor: actor, since: Date(timeIntervalSince1970: since))
        }
    }

    public func requestPass(actor: String, remote: String?, at time: Date) async throws {
        try await transaction { [self] connection in
            try await connection.query("""
                INSERT INTO pass_request (id, actor, at) VALUES (1, \(actor), \(time.timeIntervalSince1970))
                ON CONFLICT (id) DO UPDATE SET actor = excluded.actor, at = excluded.at
                """, logger: self.logger)
            try await audit(connection, .requestPass, target: nil, actor: actor, remote: remote, at: time)
        }
    }

    public func passRequest() async throws -> PassRequest? {
        try await rows("SELECT actor, at FROM pass_request WHERE id = 1").first.map { row in
            let (actor, at) = try row.decode((String, Double).self)
            return PassRequest(actor: actor, at: Date(timeIntervalSince1970: at))
        }
    }

    public func clearPassRequest(through time: Date) async throws {
        try await rows("DELETE FROM pass_request WHERE id = 1 AND at <= \(time.timeIntervalSince1970)")
    }

    public func operatorActions() async throws -> [OperatorAction] {
        try await rows("SELECT id, actor, kind, target, remote, at FROM operator_action ORDER BY id").map { row in
            let (id, actor, kindText, target, remote, at) =
                try row.decode((Int64, String, String, String?, String?, Double).self)
            guard let kind = OperatorAction.Kind(rawValue: kindText) else {
                throw StateStoreError(.unreadable, "operator action of unknown kind '\(kindText)'")
            }
            return OperatorAction(id: id, actor: actor, kind: kind, target: target, remote: remote,
                                  at: Date(timeIntervalSince1970: at))
        }
    }

    private func audit(_ connection: PostgresConnection, _ kind: OperatorAction.Kind, target: String?,
                       actor: String, remote: String?, at time: Date) async throws {
        try await connection.query("""
            INSERT INTO operator_action (actor, kind, target, remote, at)
            VALUES (\(actor), \(kind.rawValue), \(target), \(remote), \(time.timeIntervalSince1970))
            """, logger: self.logger)
    }
}
