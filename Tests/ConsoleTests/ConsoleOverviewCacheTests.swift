import BootServer
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import LabSupport
import Reconciler
import ReconcilerPostgres
import Testing

@testable import Console

/// The console keeps the store's node overviews between requests while the store does not change, and brings them
/// up to date after any write, by the console's own store (`reconcile apply` serving its console), another
/// connection to the same file (`reconcile apply` beside `reconcile console`) or SQL run by hand: from the store's
/// change feed, which names the nodes written since, it reads those nodes alone and patches them in.
struct ConsoleOverviewCacheTests {
    /// The error `/api/v1/nodes` shows for `node`.
    static func lastError(_ node: String, _ client: any TestClientProtocol) async throws -> String? {
        let nodes = try #require(try await client.json("/api/v1/nodes").value as? [[String: Any]])
        let entry = try #require(nodes.first { $0["node"] as? String == node })
        return entry["lastError"] as? String
    }

    @Test func aQuietStoreIsReadOnceAndAnyWriteIsSeen() async throws {
        let harness = try await ConsoleHarness.make()
        let console = harness.console()
        let app = Application(router: console.router(context: BootRequestContext.self))
        let other = try SQLiteStateStore(path: harness.site.statePath)
        try await app.test(.router) { client in
            #expect(try await Self.lastError("r3n1", client) == "BMC refused the password")
            _ = try await client.fetch("/")
            _ = try await client.fetch("/api/v1/site")
            #expect(console.overviews.reads == 1, "three requests on a quiet store read it once")

            // A write through the console's own store (its own connection).
            try await harness.store.record(NodeStatus(phase: .failed, rack: "r3"), lastError: "fan failure",
                                           for: "r3n1", at: harness.now)
            #expect(try await Self.lastError("r3n1", client) == "fan failure")
            #expect(console.overviews.reads == 1)
            #expect(console.overviews.patches == 1, "patched with the one node written, not read whole")

            // A write by another connection to the same file, as another process would write it.
            try await other.record(NodeStatus(phase: .failed, rack: "r3"), lastError: "PSU failure", for: "r3n1",
                                   at: harness.now)
            #expect(try await Self.lastError("r3n1", client) == "PSU failure")
            let page = try await client.fetch("/")
            #expect(page.body.contains("r3n1: PSU failure"))
            #expect(console.overviews.patches == 2)

            // A journal write alone (no node record changed) is a change too.
            _ = try await other.journalPlanned(
                [PlannedAction(node: "r3n1", rack: "r3", wave: 1, kind: .powerCycle, destructive: true,
                               detail: "power cycle")], commit: "abc", at: harness.now)
            _ = try await client.fetch("/api/v1/nodes")
            #expect(console.overviews.patches == 3)
            #expect(console.overviews.reads == 1)
        }
    }

    /// The token moves with every write of either connection and stays put otherwise.
    @Test func changeTokenMovesWithEveryWrite() async throws {
        let harness = try await ConsoleHarness.make()
        let other = try SQLiteStateStore(path: harness.site.statePath)
        let first = try #require(try await harness.store.changeToken())
        #expect(try await harness.store.changeToken() == first)
        _ = try await harness.store.nodeOverviews()
        #expect(try await harness.store.changeToken() == first, "a read is no change")
        try await harness.store.requestPass(actor: "ops", remote: nil, at: harness.now)
        let second = try #require(try await harness.store.changeToken())
        #expect(second != first)
        try await other.suspendRack("r2", actor: "ops", remote: nil, at: harness.now)
        let third = try #require(try await harness.store.changeToken())
        #expect(third != second)
        #expect(try await harness.store.changeToken() == third)
    }

    /// The kept overviews, patched after each kind of write, equal a whole read of the store every time; the
    /// writes come from the console's store, a second connection and hand-written SQL (which the store's code
    /// never sees: the feed is kept by triggers in the file).
    @Test func patchedOverviewsEqualAWholeReadAfterEveryKindOfWrite() async throws {
        let harness = try await ConsoleHarness.make()
        let store = harness.store
        let other = try SQLiteStateStore(path: harness.site.statePath)
        let sql = try DatabaseQueue(path: harness.site.statePath)
        let cache = OverviewCache()
        let now = harness.now
        var patches = 0
        func expectCurrent(_ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
            let overviews = try await cache.overviews(of: store)
            #expect(overviews == (try await store.nodeOverviews()), "\(what)", sourceLocation: sourceLocation)
            patches += 1
            #expect(cache.patches == patches, "\(what): patched", sourceLocation: sourceLocation)
            #expect(cache.reads == 1, "\(what): never read whole again", sourceLocation: sourceLocation)
        }
        _ = try await cache.overviews(of: store)
        #expect(cache.reads == 1)

        try await other.record(NodeStatus(phase: .provisioning, rack: "r4"), lastError: nil, for: "new1", at: now)
        try await expectCurrent("a new node by another connection")
        let ids = try await other.journalPlanned(
            [PlannedAction(node: "new1", rack: "r4", wave: 1, kind: .powerCycle, destructive: true, detail: "cycle"),
             PlannedAction(node: "jonly", rack: "r4", wave: 1, kind: .powerCycle, destructive: true, detail: "cycle")],
            commit: "def", at: now)
        try await expectCurrent("journaled")
        try await other.journalStarted(ids[0], at: now)
        try await expectCurrent("started")
        try await store.journalFinished(ids[0], at: now)
        try await expectCurrent("finished by the console's own store")
        try await other.recordInstall(
            InstallReport(phase: .downloading, image: "rocky@9", percent: 40, downloaded: 4, uploaded: 1, fromSeed: 3),
            for: "new1", at: now)
        try await expectCurrent("an install report")
        try await sql.write { db in
            try db.execute(sql: "UPDATE node_status SET last_error = 'by hand' WHERE name = 'r3n1'")
        }
        try await expectCurrent("an update by hand")
        #expect(try await cache.overviews(of: store)["r3n1"]?.record?.lastError == "by hand")
        // A node that had only journal entries gets a status from a writer whose own conflict policy is IGNORE:
        // the feed's triggers must not inherit it.
        try await sql.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO node_status (name, rack, phase, services, drifted, last_seen)
                VALUES ('jonly', 'r4', 'failed', '[]', '[]', 1)
                """)
        }
        try await expectCurrent("INSERT OR IGNORE by hand")
        #expect(try await cache.overviews(of: store)["jonly"]?.record?.status.phase == .failed)
        try await sql.write { db in
            try db.execute(sql: "DELETE FROM install_progress WHERE node = 'new1'")
            try db.execute(sql: "DELETE FROM node_status WHERE name = 'new1'")
            try db.execute(sql: "DELETE FROM journal WHERE node = 'new1'")
        }
        try await expectCurrent("a node deleted by hand")
        #expect(try await cache.overviews(of: store)["new1"] == nil, "gone, not kept")
        try await other.requestPass(actor: "ops", remote: nil, at: now)
        try await expectCurrent("a write of no node")
    }

    /// The store answers the nodes written after a position; every node from no position, from a position its
    /// feed never reached (the file was replaced by an older copy), and when more than a third were written.
    @Test func theFeedNamesTheNodesWrittenSinceAPosition() async throws {
        let harness = try await ConsoleHarness.make()
        let store = harness.store
        let all = try #require(try await store.nodeOverviews(changedAfter: nil))
        #expect(all.changed == nil)
        #expect(all.overviews == (try await store.nodeOverviews()))
        let quiet = try #require(try await store.nodeOverviews(changedAfter: all.position))
        #expect(quiet.position == all.position)
        #expect(quiet.changed == [] && quiet.overviews.isEmpty)

        try await store.record(NodeStatus(phase: .ready, rack: "r1"), lastError: nil, for: "r1n2", at: harness.now)
        try await store.requestPass(actor: "ops", remote: nil, at: harness.now)
        let one = try #require(try await store.nodeOverviews(changedAfter: all.position))
        #expect(one.position > all.position)
        #expect(one.changed == ["r1n2"])
        #expect(Array(one.overviews.keys) == ["r1n2"])
        #expect(one.overviews["r1n2"] == (try await store.nodeOverviews())["r1n2"])

        let ahead = try #require(try await store.nodeOverviews(changedAfter: one.position + 10))
        #expect(ahead.changed == nil)
        #expect(ahead.overviews == (try await store.nodeOverviews()))

        // More than a third of the nodes written: every node, read whole.
        let nodes = try await store.nodeRecords().keys.sorted()
        for node in nodes.prefix(nodes.count / 3 + 1) {
            try await store.record(NodeStatus(phase: .failed, rack: "r1"), lastError: "mass", for: node,
                                   at: harness.now)
        }
        let many = try #require(try await store.nodeOverviews(changedAfter: one.position))
        #expect(many.changed == nil)
        #expect(many.overviews == (try await store.nodeOverviews()))
    }

    /// A PostgreSQL store keeps no change token and no feed: every request reads every node, and a write through
    /// another connection is seen at the next one.
    @Test func aPostgresStoreIsReadWholeEveryTime() async throws {
        let url = try await PostgresServer.shared.newDatabase()
        let store = try await PostgresStateStore.connect(try PostgresLocation(parsing: url))
        defer { store.close() }
        let other = try await PostgresStateStore.connect(try PostgresLocation(parsing: url))
        defer { other.close() }
        let now = Date()
        try await ConsoleTestSite.seed(store, now: now)
        let cache = OverviewCache()
        #expect(try await cache.overviews(of: store) == (try await store.nodeOverviews()))
        try await other.record(NodeStatus(phase: .failed, rack: "r3"), lastError: "PSU failure", for: "r3n1", at: now)
        #expect(try await cache.overviews(of: store)["r3n1"]?.record?.lastError == "PSU failure")
        #expect(try await cache.overviews(of: store) == (try await store.nodeOverviews()))
        #expect(cache.reads == 3 && cache.patches == 0)
    }
}
