import Foundation
import LabSupport
import Reconciler
import ReconcilerPostgres
import ReconcilerTesting
import Testing

/// The stores one store suite runs against: the embedded SQLite file, the in-memory twin, and a real PostgreSQL
/// server the tests start themselves (`PostgresServer`), a fresh database per test.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case memory
    case postgres

    var testDescription: String { rawValue }

    /// Opens an empty store of this kind; `body` uses it, and the store is closed afterwards (whatever happens).
    func withStore<Result>(_ body: (any StateStore) async throws -> Result) async throws -> Result {
        let directory = try TemporaryDirectory("rackswarm-store")
        switch self {
        case .sqlite: return try await body(try SQLiteStateStore(path: directory.database))
        case .memory: return try await body(MemoryStateStore())
        case .postgres:
            let store = try await Self.openPostgres()
            defer { store.close() }
            return try await body(store)
        }
    }

    /// A PostgreSQL store on a fresh database of the shared test server.
    static func openPostgres(shard: String? = nil) async throws -> PostgresStateStore {
        let url = try await PostgresServer.shared.newDatabase()
        return try await PostgresStateStore.connect(try PostgresLocation(parsing: url), shard: shard)
    }
}
