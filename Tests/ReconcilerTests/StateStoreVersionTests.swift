import Foundation
import LabSupport
import GRDB
import Reconciler
import Testing

/// The state store's schema versions: a dry run never writes, and a newer store is refused with both versions.
struct StateStoreVersionTests {
    /// A store made by this build whose migration table `sql` then changes: an older or a newer store.
    static func store(changedBy sql: String) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory("rackswarm-store")
        _ = try SQLiteStateStore(path: directory.database)
        let queue = try DatabaseQueue(path: directory.database)
        try queue.write { db in try db.execute(sql: sql) }
        try queue.close()
        return directory
    }

    /// A 0-byte state file stays 0 bytes through `reconcile --dry-run` and `reconcile status`.
    @Test func dryRunLeavesAnEmptyStateFileUntouched() async throws {
        let directory = try TemporaryDirectory("rackswarm-store")
        #expect(FileManager.default.createFile(atPath: directory.database, contents: Data()))
        let site = Repo.examples.appendingPathComponent("datacenter").path
        let (status, stdout, stderr) = try await runProcess(
            ValidateCommandTests.binary, ["plan", "--repo", site, "--state", directory.database])
        #expect(status == 2, "\(stdout)\(stderr)")
        let (statusStatus, _, statusErr) = try await runProcess(
            ValidateCommandTests.binary, ["status", "--repo", site, "--state", directory.database])
        #expect(statusStatus == 0, "\(statusErr)")
        let size = try FileManager.default.attributesOfItem(atPath: directory.database)[.size] as? NSNumber
        #expect(size?.intValue == 0)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(siblings == ["state.db"])
    }

    /// An older, partly migrated store is neither migrated nor used by a dry run.
    @Test func dryRunRefusesAnOlderStoreWithoutMigratingIt() throws {
        let directory = try Self.store(changedBy: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v5:%'")
        let before = try Data(contentsOf: URL(fileURLWithPath: directory.database))
        #expect(throws: StateStoreVersionError.self) { try SQLiteStateStore.openExisting(path: directory.database) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.database)) == before)
    }

    /// A store from before the latest-entries table (schema 5) with a journal is migrated on open: the table is
    /// filled from the journal it has and kept from then on.
    @Test func storeWithAJournalMigratesToLatestEntries() async throws {
        let directory = try TemporaryDirectory("rackswarm-store")
        let old = try SQLiteStateStore(path: directory.database)
        let actions = ["n1", "n2"].flatMap { node in
            [PlannedAction.Kind.powerCycle, .installImage].map {
                PlannedAction(node: node, rack: "r1", wave: 1, kind: $0, destructive: false, detail: "")
            }
        }
        let ids = try await old.journalPlanned(actions, commit: nil, at: Date(timeIntervalSince1970: 1))
        try await old.journalStarted(ids[0], at: Date(timeIntervalSince1970: 2))
        try await old.journalStarted(ids[2], at: Date(timeIntervalSince1970: 2))
        try await old.journalFinished(ids[2], at: Date(timeIntervalSince1970: 3))
        // Back to schema 5: no table, no triggers, no record of the migration.
        let queue = try DatabaseQueue(path: directory.database)
        try await queue.write { db in
            try db.execute(sql: """
                DROP TRIGGER journal_latest_insert; DROP TRIGGER journal_latest_state;
                DROP TRIGGER journal_latest_delete; DROP TABLE journal_latest;
                DELETE FROM grdb_migrations WHERE identifier LIKE 'v6:%'
                """)
        }
        try queue.close()
        #expect(throws: StateStoreVersionError.self) { try SQLiteStateStore.openExisting(path: directory.database) }
        let store = try SQLiteStateStore(path: directory.database)
        try await StateStoreSiteReadTests.expectOverviewsAgree(store, nodes: ["n1", "n2"])
        #expect(try await store.nodeOverviews()["n1"]?.journal.map(\.id) == [ids[0], ids[1]])
        try await store.journalFinished(ids[0], at: Date(timeIntervalSince1970: 4))
        try await StateStoreSiteReadTests.expectOverviewsAgree(store, nodes: ["n1", "n2"])
        #expect(try await store.nodeOverviews()["n1"]?.journal.map(\.id) == [ids[1]])
    }

    /// A store with a migration this build does not know is refused by every open, naming both versions.
    @Test func newerStoreIsRefusedWithBothVersions() async throws {
        let directory = try Self.store(
            changedBy: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
        let current = SQLiteStateStore.schemaVersion
        let expected = "has schema version \(current + 1), this reconcile uses version \(current)"
        for open in [{ _ = try SQLiteStateStore(path: directory.database) },
                     { _ = try SQLiteStateStore.openExisting(path: directory.database) }] {
            do {
                try open()
                Issue.record("a newer store was opened")
            } catch let error as StateStoreVersionError {
                #expect(error.description.contains(expected), "\(error)")
                #expect(error.description.contains("v99: from the future"))
            }
        }
        let site = Repo.examples.appendingPathComponent("datacenter").path
        let (status, _, stderr) = try await runProcess(
            ValidateCommandTests.binary, ["plan", "--repo", site, "--state", directory.database])
        #expect(status == 1)
        #expect(stderr.contains(expected), "\(stderr)")
    }
}
