import Foundation
import GRDB
import MemberwiseInit

/// Schema versions: a read-only open that never migrates, and the refusal of a store from a newer rackswarm.
extension SQLiteStateStore {
    /// Opens an existing store read-only (for `--dry-run` and `status`, which must not write: SQLite itself
    /// refuses writes). Nil when there is no file, or an empty one (no state yet, and left untouched). A store
    /// from another schema version is refused: a dry run cannot migrate it.
    public static func openExisting(path: String) throws -> SQLiteStateStore? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        if (attributes[.size] as? NSNumber)?.int64Value == 0 { return nil }
        let store = try SQLiteStateStore(readOnly: path)
        try store.database.read { db in
            try checkVersion(db, path: path)
            guard try migrator.hasCompletedMigrations(db) else {
                throw StateStoreVersionError(
                    path: path, found: try migrator.appliedIdentifiers(db).count, expected: migrator.migrations.count,
                    advice: "a dry run does not migrate it; one `reconcile apply` will")
            }
        }
        return store
    }

    /// The schema version this build writes: the number of migrations it knows.
    public static var schemaVersion: Int { migrator.migrations.count }

    /// Refuses a store with migrations this build does not know (written by a newer rackswarm).
    static func checkVersion(_ db: Database, path: String) throws(StateStoreVersionError) {
        let applied: Set<String>
        do {
            // A database without the migrations table has no version yet: GRDB creates it when migrating.
            guard try db.tableExists("grdb_migrations") else { return }
            applied = try migrator.appliedIdentifiers(db)
        } catch {
            throw StateStoreVersionError(path: path, found: 0, expected: schemaVersion,
                                         advice: "its schema cannot be read: \(error)")
        }
        let unknown = applied.subtracting(migrator.migrations)
        guard unknown.isEmpty else {
            throw StateStoreVersionError(
                path: path, found: applied.count, expected: schemaVersion,
                advice: "it was written by a newer rackswarm (unknown migrations: "
                    + unknown.sorted().joined(separator: ", ") + "); use that version, nothing was changed")
        }
    }
}

/// A state store this build cannot use as it is: its schema version and the one expected, and what to do.
@PublicMemberwiseInit
public struct StateStoreVersionError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var found: Int
    public var expected: Int
    public var advice: String

    public var description: String {
        "state store \(path) has schema version \(found), this reconcile uses version \(expected): \(advice)"
    }
}
