import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing

/// Store v4: rack suspensions, pass requests, the operator audit and install samples, in both stores.
struct OperatorActionStoreTests {
    @Test(arguments: StoreKind.allCases) func suspendResumeAndPassRequestsAreAuditedWithTheActor(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            let t0 = Date(timeIntervalSince1970: 1_000)
            try await store.suspendRack("r1", actor: "alice", remote: "10.0.0.5", at: t0)
            try await store.suspendRack("r1", actor: "bob", remote: nil, at: t0.addingTimeInterval(10))
            try await store.suspendRack("r2", actor: "bob", remote: nil, at: t0.addingTimeInterval(20))
            #expect(try await store.suspendedRacks() == ["r1", "r2"])
            let suspensions = try await store.rackSuspensions()
            #expect(suspensions == [RackSuspension(rack: "r1", actor: "alice", since: t0),
                                    RackSuspension(rack: "r2", actor: "bob", since: t0.addingTimeInterval(20))],
                    "suspending a suspended rack keeps who suspended it first")
            try await store.resumeRack("r1", actor: "carol", remote: nil, at: t0.addingTimeInterval(30))
            #expect(try await store.suspendedRacks() == ["r2"])

            #expect(try await store.passRequest() == nil)
            try await store.requestPass(actor: "alice", remote: nil, at: t0.addingTimeInterval(40))
            try await store.requestPass(actor: "bob", remote: nil, at: t0.addingTimeInterval(50))
            #expect(try await store.passRequest() == PassRequest(actor: "bob", at: t0.addingTimeInterval(50)))
            // A pass that started before the latest request leaves it pending; one after clears it.
            try await store.clearPassRequest(through: t0.addingTimeInterval(45))
            #expect(try await store.passRequest() != nil)
            try await store.clearPassRequest(through: t0.addingTimeInterval(50))
            #expect(try await store.passRequest() == nil)

            let audit = try await store.operatorActions()
            #expect(audit.map(\.kind) == [.suspendRack, .suspendRack, .suspendRack, .resumeRack, .requestPass,
                                          .requestPass])
            #expect(audit.map(\.actor) == ["alice", "bob", "bob", "carol", "alice", "bob"])
            #expect(audit.first?.remote == "10.0.0.5" && audit.first?.target == "r1")
            #expect(audit.map(\.id) == (1...6).map(Int64.init))
        }
    }

    @Test(arguments: StoreKind.allCases) func installSamplesKeepTheHistoryForADay(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            let t0 = Date(timeIntervalSince1970: 100_000)
            for (offset, percent) in [(0.0, 10.0), (60, 50), (120, 100)] {
                try await store.recordInstall(
                    InstallReport(phase: .downloading, image: "os@1", percent: percent, downloaded: Int64(percent) * 10,
                                  uploaded: 1, fromSeed: 2),
                    for: "n1", at: t0.addingTimeInterval(offset))
            }
            #expect(try await store.installSamples(since: t0).map(\.downloaded) == [100, 500, 1000])
            #expect(try await store.installSamples(since: t0.addingTimeInterval(30)).count == 2)
            #expect(try await store.installProgress()["n1"]?.report.percent == 100, "the latest report stays")
            // A report a day and more later drops the samples older than a day.
            try await store.recordInstall(InstallReport(phase: .written, image: "os@1", percent: 100, downloaded: 1000),
                                          for: "n1", at: t0.addingTimeInterval(installSampleRetention + 90))
            let kept = try await store.installSamples(since: .distantPast)
            #expect(kept.map(\.at) == [t0.addingTimeInterval(120), t0.addingTimeInterval(installSampleRetention + 90)])
        }
    }

    @Test func reopeningKeepsSuspensions() async throws {
        let directory = try TemporaryDirectory("rackswarm-store")
        let store = try SQLiteStateStore(path: directory.database)
        try await store.suspendRack("r1", actor: "alice", remote: nil, at: Date())
        // Reopening runs the migrator again: nothing is lost, nothing runs twice.
        let reopened = try SQLiteStateStore(path: directory.database)
        #expect(try await reopened.suspendedRacks() == ["r1"])
        #expect(try await reopened.integrityCheck() == "ok")
    }

    @Test func suspendedRacksGetNoActions() throws {
        let desired = try PlannerTests.example()
        let all = Planner.plan(desired: desired, observed: ObservedState())
        let held = Planner.plan(desired: desired, observed: ObservedState(), policy: .init(suspendedRacks: ["r2"]))
        #expect(all.actions.contains { $0.rack == "r2" })
        #expect(!held.actions.contains { $0.rack == "r2" })
        let r1 = all.actions.filter { $0.rack == "r1" }.map(\.kind)
        #expect(held.actions.filter { $0.rack == "r1" }.map(\.kind) == r1)
        // Decommissioning waits too.
        var observed = ObservedState()
        observed.nodes["gone"] = NodeStatus(phase: .ready, image: "debian-12@12.15", rack: "r2")
        let pruning = Planner.plan(desired: desired, observed: observed, policy: .init(prune: true))
        #expect(pruning.actions.contains { $0.node == "gone" })
        let pruningHeld = Planner.plan(desired: desired, observed: observed,
                                       policy: .init(prune: true, suspendedRacks: ["r2"]))
        #expect(!pruningHeld.actions.contains { $0.node == "gone" })
    }
}
