import Foundation
import LabSupport
import Logging
import Reconciler
import ReconcilerPostgres
import ReconcilerTesting
import Testing

/// Racks sharded by lease on a real PostgreSQL: an even spread, a joiner taking its share, the fencing token
/// refusing a write made after the lease moved, and a takeover that resumes the journal without repeating a step.
struct RackLeaseTests {
    /// Several shards on one fresh database.
    static func shards(_ names: [String]) async throws -> [PostgresStateStore] {
        let url = try await PostgresServer.shared.newDatabase()
        let location = try PostgresLocation(parsing: url)
        var stores: [PostgresStateStore] = []
        for name in names { stores.append(try await PostgresStateStore.connect(location, shard: name)) }
        return stores
    }

    static func keeper(_ store: PostgresStateStore, ttl: Duration = .seconds(30)) -> RackLeaseKeeper {
        RackLeaseKeeper(store: store, ttl: ttl, address: nil, logger: Logger(label: "test.lease"))
    }

    @Test(arguments: [(10, 3), (7, 2), (2, 3), (12, 4)])
    func sharesAreEven(racks: Int, members: Int) {
        let names = (0..<members).map { "s\($0)" }
        let shares = names.map { RackLeaseKeeper.share(racks: racks, members: names, shard: $0) }
        #expect(shares.reduce(0, +) == racks)
        #expect((shares.max() ?? 0) - (shares.min() ?? 0) <= 1)
    }

    @Test func racksSpreadEvenlyAndAJoinerTakesItsShare() async throws {
        let stores = try await Self.shards(["a", "b", "c", "d"])
        defer { for store in stores { store.close() } }
        let racks = Set((1...10).map { "r\($0)" })
        let keepers = stores.map { Self.keeper($0) }
        // a starts alone and takes everything; b and c join.
        #expect(try await keepers[0].hold(racks).count == 10)
        _ = try await keepers[1].hold(racks)
        _ = try await keepers[2].hold(racks)
        // Round two: a gives back its excess, the others take it.
        for keeper in keepers.prefix(3) { _ = try await keeper.hold(racks) }
        for keeper in keepers.prefix(3) { _ = try await keeper.hold(racks) }
        var held = [Int]()
        for keeper in keepers.prefix(3) { held.append(await keeper.leases.count) }
        #expect(held == [4, 3, 3])
        // d joins: within two rounds of everyone, it holds its share and no rack has two holders.
        for _ in 0..<2 { for keeper in keepers { _ = try await keeper.hold(racks) } }
        held = []
        for keeper in keepers { held.append(await keeper.leases.count) }
        #expect(held == [3, 3, 2, 2])
        let leases = try await stores[0].rackLeases()
        #expect(leases.count == 10 && Set(leases.compactMap(\.holder)) == ["a", "b", "c", "d"])
        // a leaves: its racks are free at once, and the others take them at their next round.
        try await stores[0].leave()
        for keeper in keepers.dropFirst() { _ = try await keeper.hold(racks) }
        for keeper in keepers.dropFirst() { _ = try await keeper.hold(racks) }
        held = []
        for keeper in keepers.dropFirst() { held.append(await keeper.leases.count) }
        #expect(held.reduce(0, +) == 10 && held.max() == 4 && held.min() == 3)
    }

    @Test func membersPublishTheirAddressesAndTheEntriesToRewriteFollowThem() async throws {
        let stores = try await Self.shards(["a", "b", "c", "d"])
        defer { for store in stores { store.close() } }
        let racks: Set<String> = ["r1", "r2", "r3"]
        let keepers = stores.prefix(3).enumerated().map { index, store in
            RackLeaseKeeper(store: store, ttl: .seconds(30), address: "http://10.0.0.\(index + 1):8080",
                            logger: Logger(label: "test.lease"))
        }
        for _ in 0..<2 { for keeper in keepers { _ = try await keeper.hold(racks) } }
        // Each rack's address is its holder's; each keeper's fallbacks are the others, in shard order after it.
        let holders = try await stores[0].rackHolders()
        let servers = try await stores[0].rackServers()
        let addresses = ["a": "http://10.0.0.1:8080", "b": "http://10.0.0.2:8080", "c": "http://10.0.0.3:8080"]
        #expect(Set(servers.keys) == racks && racks.allSatisfy { servers[$0] == addresses[holders[$0] ?? ""] })
        #expect(await keepers[1].fallbacks == ["http://10.0.0.3:8080", "http://10.0.0.1:8080"])
        // The first ask gives every rack taken; the next, nothing, until the members change.
        let first = await keepers[1].takenRacks()
        #expect(first == Set(await keepers[1].leases.keys) && !first.isEmpty)
        #expect(await keepers[1].takenRacks().isEmpty)
        try await stores[2].leave()
        _ = try await keepers[1].hold(racks)
        #expect(await keepers[1].fallbacks == ["http://10.0.0.1:8080"])
        #expect(await keepers[1].takenRacks() == Set(await keepers[1].leases.keys), "every held rack, for c left")
        // A reconciler advertising a live member's address (one that started before it) holds nothing and says
        // who has it.
        let twin = RackLeaseKeeper(store: stores[3], ttl: .seconds(30), address: "http://10.0.0.1:8080",
                                   logger: Logger(label: "test.lease"))
        await #expect(throws: AddressInUse.self) { _ = try await twin.hold(racks) }
        #expect(await twin.leases.isEmpty)
        // The one that was there first keeps its address and its racks.
        #expect(try await !keepers[0].hold(racks).isEmpty)
    }

    @Test func aWriteAfterTheLeaseMovedIsRefused() async throws {
        let stores = try await Self.shards(["a", "b"])
        defer { for store in stores { store.close() } }
        let (a, b) = (stores[0], stores[1])
        _ = try await a.heartbeat(address: nil, ttl: .seconds(30))
        #expect(try await a.acquireLeases(["r1"], upTo: 1, ttl: .seconds(30)) == ["r1": 1])
        let cycle = PlannedAction(node: "n1", rack: "r1", wave: 1, kind: .powerCycle, destructive: true, detail: "")
        let ids = try await a.journalPlanned([cycle, cycle], commit: "c1", at: Date())
        try await a.journalStarted(ids[0], at: Date())
        // b cannot journal on a rack it does not hold, nor take it while a's lease runs.
        await #expect(throws: StateStoreError.self) { try await b.journalPlanned([cycle], commit: "c1", at: Date()) }
        #expect(try await b.acquireLeases(["r1"], upTo: 1, ttl: .seconds(30)).isEmpty)
        // a's last renewal gives it one more second, then it stops renewing; once its lease expired, b takes the
        // rack under a new token.
        #expect(try await a.renewLeases(ttl: .seconds(1)) == ["r1": 1])
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await b.acquireLeases(["r1"], upTo: 1, ttl: .seconds(30)) == ["r1": 2])
        let late = await #expect(throws: StateStoreError.self) { try await a.journalFinished(ids[0], at: Date()) }
        #expect(late?.code == .leaseLost)
        await #expect(throws: StateStoreError.self) { try await a.journalStarted(ids[1], at: Date()) }
        #expect(try await a.renewLeases(ttl: .seconds(30)).isEmpty, "an expired lease is not renewed")
        #expect(try await b.unfinishedActions().map(\.id) == [ids[0]], "a's refused write changed nothing")
        // b, the holder now, closes what a left started, and acts under its own token.
        try await b.journalFailed(ids[0], error: "interrupted", at: Date())
        try await b.journalStarted(ids[1], at: Date())
        try await b.journalFinished(ids[1], at: Date())
        let leases = try await b.rackLeases()
        #expect(leases.map(\.holder) == ["b"] && leases.map(\.token) == [2])
    }

    @Test func twoShardsConvergeASiteWithEachActionDoneOnce() async throws {
        let desired = try PlannerTests.example()
        let stores = try await Self.shards(["a", "b"])
        defer { for store in stores { store.close() } }
        let racks = Set(desired.racks.map(\.name))
        let keepers = stores.map { Self.keeper($0) }
        _ = try await keepers[0].hold(racks)
        _ = try await keepers[1].hold(racks)
        let heldA = try await keepers[0].hold(racks)
        let heldB = try await keepers[1].hold(racks)
        #expect(heldA.count == 1 && heldB.count == 1 && heldA != heldB)
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let performers = [FakePerformer(), FakePerformer()]
        try await withThrowingTaskGroup(of: Executor.Report.self) { group in
            for (index, held) in [heldA, heldB].enumerated() {
                let store = stores[index]
                let performer = performers[index]
                let others = racks.subtracting(held)
                let shardPlan = Planner.plan(desired: desired, observed: ObservedState(),
                                             policy: .init(suspendedRacks: others))
                group.addTask {
                    try await Executor(desired: desired, store: store, performer: performer,
                                       policy: .init(maxAttempts: 1, racks: held), logger: Logger(label: "test"))
                        .execute(shardPlan, commit: "c1")
                }
            }
            for try await report in group { #expect(report.failed.isEmpty && report.lost.isEmpty) }
        }
        let calls = await performers[0].calls + performers[1].calls
        #expect(calls.count == plan.actions.count)
        #expect(Set(calls) == Set(plan.actions.map { FakePerformer.Call(node: $0.node, kind: $0.kind) }))
        let journal = try await stores[0].journal(node: nil)
        #expect(journal.count == plan.actions.count && journal.allSatisfy { $0.state == .finished })
    }

    /// The takeover in miniature: a journals r1n1's power cycle as finished and its install as started, then stops
    /// renewing (a dead process). b takes the racks once the lease expired and resumes: r1n1 is not power-cycled
    /// again, and a's late write is refused.
    @Test func takeoverResumesTheJournalWithoutRepeatingAStep() async throws {
        let desired = try PlannerTests.example()
        let stores = try await Self.shards(["a", "b"])
        defer { for store in stores { store.close() } }
        let (a, b) = (stores[0], stores[1])
        let racks = Set(desired.racks.map(\.name))
        #expect(try await Self.keeper(a, ttl: .seconds(30)).hold(racks) == racks)
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let ids = try await a.journalPlanned(plan.actions, commit: "c1", at: Date())
        var install: Int64?
        for (action, id) in zip(plan.actions, ids) where action.node == "r1n1" {
            try await a.journalStarted(id, at: Date())
            if action.kind == .installImage {
                install = id
                break
            }
            try await a.journalFinished(id, at: Date())
        }
        // a's last renewal (membership and leases) gives it one more second; then it is gone.
        _ = try await a.heartbeat(address: nil, ttl: .seconds(1))
        #expect(try await a.renewLeases(ttl: .seconds(1)).count == racks.count)
        try await Task.sleep(for: .milliseconds(1500))
        let keeperB = Self.keeper(b, ttl: .seconds(30))
        #expect(try await keeperB.hold(racks) == racks, "a is no member any more: b's share is every rack")
        let performer = FakePerformer()
        let report = try await Executor(desired: desired, store: b, performer: performer,
                                        policy: .init(maxAttempts: 1, racks: racks), logger: Logger(label: "test"))
            .execute(plan, commit: "c1")
        #expect(report.completed.count == 8)
        #expect(await performer.calls.filter { $0.node == "r1n1" }.map(\.kind) == [
            .installImage, .bootLocal, .installService, .verifyServices,
        ], "no second power cycle: the install is resumed")
        let late = await #expect(throws: StateStoreError.self) {
            try await a.journalFinished(try #require(install), at: Date())
        }
        #expect(late?.code == .leaseLost)
        let journal = try await b.journal(node: "r1n1")
        #expect(journal.filter { $0.action.kind == .powerCycle && $0.state == .finished }.count == 1)
        #expect(try await b.unfinishedActions().isEmpty)
    }
}
