import Foundation
import LabSupport
import Logging
import Reconciler
import ReconcilerPostgres
import Testing

/// What keeps a shared PostgreSQL store safe and small over time: a deadline on every call (a hung database makes
/// the reconciler stop acting, not wait), and journal pruning by the same rule as SQLite's. Against a real server.
struct PostgresHousekeepingTests {
    /// A proxy between one reconciler and the server stalls (connections stay open, nothing passes): each call
    /// fails within its deadline, the reconciler's next renewal gives up every rack, and another reconciler, with a
    /// path of its own to the server, takes them once the leases lapse.
    @Test func aHungDatabaseFailsEachCallAtItsDeadlineAndTheRacksMoveOn() async throws {
        let url = try await PostgresServer.shared.newDatabase()
        let endpoint = try await PostgresServer.shared.endpoint()
        let proxy = try await TCPProxy(to: "127.0.0.1", port: endpoint.port)
        defer { proxy.stop() }
        let direct = try PostgresLocation(parsing: url)
        var proxied = direct
        proxied.port = proxy.port
        // Long enough that the calls before the stall meet it on a loaded machine (5 s did not, once, beside 100
        // other suites).
        let callDeadline = Duration.seconds(10)
        // b connects first and so creates the schema, with the default deadline: a's own connect then only finds
        // it, and none of a's calls before the stall is a migration (one missed the 10 s on a loaded machine).
        let b = try await PostgresStateStore.connect(direct, shard: "b")
        let a = try await PostgresStateStore.connect(proxied, shard: "a", deadline: callDeadline)
        defer {
            a.close()
            b.close()
        }
        let racks: Set<String> = ["r1", "r2"]
        let ttl = Duration.seconds(8)
        let keeperA = RackLeaseKeeper(store: a, ttl: ttl, address: nil, logger: Logger(label: "test.a"))
        let keeperB = RackLeaseKeeper(store: b, ttl: ttl, address: nil, logger: Logger(label: "test.b"))
        #expect(try await keeperA.hold(racks) == racks)
        let cycle = PlannedAction(node: "n1", rack: "r1", wave: 1, kind: .powerCycle, destructive: true, detail: "")
        let ids = try await a.journalPlanned([cycle], commit: "c1", at: Date())

        proxy.stall()
        let clock = ContinuousClock()
        let start = clock.now
        let hung = await #expect(throws: StateStoreError.self) { try await a.journalStarted(ids[0], at: Date()) }
        let waited = clock.now - start
        #expect(hung?.code == .unavailable, "\(String(describing: hung))")
        #expect(waited >= callDeadline - .milliseconds(100) && waited < callDeadline * 4, "failed after \(waited)")
        await keeperA.renew()
        #expect(await keeperA.leases.isEmpty, "a renewal that cannot reach the store holds nothing")
        #expect(clock.now - start < callDeadline * 8, "the renewal was bounded too")

        // b takes both racks once a's leases lapsed (they were renewed for 8 s at most before the stall).
        var taken: Set<String> = []
        let deadline = clock.now + .seconds(40)
        while taken != racks && clock.now < deadline {
            taken = try await keeperB.hold(racks)
            if taken != racks { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(taken == racks)
        try await b.journalFailed(ids[0], error: "a was cut off", at: Date())
        #expect(try await b.journal(node: "n1").map(\.state) == [.failed], "a's start never landed")
    }

    /// The same journal pruned on SQLite and on PostgreSQL leaves the same entries: ended ones before the cutoff go,
    /// started ones and each node's newest stay.
    @Test func pruningMatchesSQLite() async throws {
        let directory = try TemporaryDirectory("rackswarm-prune")
        let sqlite = try SQLiteStateStore(path: directory.database)
        let postgres = try await PostgresStateStore.connect(
            try PostgresLocation(parsing: try await PostgresServer.shared.newDatabase()))
        defer { postgres.close() }
        let old = Date(timeIntervalSince1970: 1_700_000_000)
        let recent = Date()
        for store in [sqlite as any StateStore, postgres] {
            for (node, time) in [("n1", old), ("n1", old), ("n1", old), ("n2", old), ("n2", recent)] {
                let action = PlannedAction(node: node, rack: "r1", wave: 1, kind: .powerCycle, destructive: true,
                                           detail: "\(time.timeIntervalSince1970)")
                let id = try await store.journalPlanned([action], commit: "c1", at: time)[0]
                try await store.journalStarted(id, at: time)
                try await store.journalFinished(id, at: time)
            }
            let started = try await store.journalPlanned(
                [PlannedAction(node: "n3", rack: "r1", wave: 1, kind: .installImage, destructive: true, detail: "")],
                commit: "c1", at: old)[0]
            try await store.journalStarted(started, at: old)
        }
        let cutoff = recent.addingTimeInterval(-3600)
        let fromSQLite = try await sqlite.pruneJournal(before: cutoff, keepingNewestPerNode: 1)
        let fromPostgres = try await postgres.pruneJournal(before: cutoff, keepingNewestPerNode: 1)
        #expect(fromSQLite == 3 && fromPostgres == 3)
        let kept = try await postgres.journal(node: nil)
        #expect(kept.map(\.id) == (try await sqlite.journal(node: nil)).map(\.id))
        #expect(kept.map(\.action.node) == ["n1", "n2", "n3"], "each node's newest, and n3's started install")
        #expect(try await postgres.pruneJournal(before: cutoff, keepingNewestPerNode: 1) == 0, "nothing twice")
    }
}
