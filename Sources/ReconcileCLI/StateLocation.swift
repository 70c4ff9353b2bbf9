import ArgumentParser
import Foundation
import Logging
import Reconciler
import ReconcilerPostgres

/// What `--state` names: a SQLite file (the embedded default, any plain path) or a shared PostgreSQL database
/// (`postgres://USER@HOST:PORT/DATABASE?password=env:NAME`), the password always by reference.
enum StateLocation {
    /// Opens the store for a reconciler that writes: SQLite is created and migrated; PostgreSQL is connected and
    /// migrated, and journal writes are fenced by `shard`'s rack leases when one is given. `deadline` bounds each
    /// PostgreSQL statement (a hung database makes the call fail, not wait); bulk work (benchmarks, copies) passes
    /// a long one.
    static func open(_ state: String, shard: String? = nil, deadline: Duration = .seconds(30)) async throws
        -> any StateStore
    {
        guard PostgresLocation.isPostgres(state) else { return try SQLiteStateStore(path: state) }
        return try await PostgresStateStore.connect(try location(state), shard: shard, deadline: deadline,
                                                    logger: Logger(label: "rackswarm.postgres"))
    }

    /// Opens an existing store to read (status, plans): nil when a SQLite file does not exist yet. A PostgreSQL
    /// database is always there to ask.
    static func openExisting(_ state: String) async throws -> (any StateStore)? {
        guard PostgresLocation.isPostgres(state) else { return try SQLiteStateStore.openExisting(path: state) }
        return try await open(state)
    }

    /// The parsed URL; a bad one is a usage error naming what is wrong (never echoing a password).
    static func location(_ state: String) throws -> PostgresLocation {
        do {
            return try PostgresLocation(parsing: state)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The default shard id: this machine's host name.
    static var defaultShard: String { ProcessInfo.processInfo.hostName }
}
