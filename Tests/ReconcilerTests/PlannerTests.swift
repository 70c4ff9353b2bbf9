import Foundation
import LabSupport
import Reconciler
import Testing

/// The pure planner: lifecycle branches, waves, and the fixpoint property.
struct PlannerTests {
    static func example() throws -> DesiredState {
        let result = SiteLoader.load(path: Repo.examples.appendingPathComponent("datacenter").path)
        return try #require(result.state, "\(result.renderDiagnostics())")
    }

    static func generated(_ nodes: Int, perRack: Int, firstWave: Int = 2) throws -> DesiredState {
        let directory = try TemporaryDirectory("rackswarm-gen")
        try SiteGenerator(nodes: nodes, nodesPerRack: perRack, firstWave: firstWave).write(to: directory.path)
        let result = SiteLoader.load(path: directory.path)
        return try #require(result.state, "\(result.renderDiagnostics())")
    }

    @Test func examplePlanMatchesGolden() throws {
        let desired = try Self.example()
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let json = PlanRenderer().json(plan, site: desired.site.name, commit: nil)
        let golden = Repo.fixtures.appendingPathComponent("plans/datacenter-first-install.json")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try json.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(json == (try String(contentsOf: golden, encoding: .utf8)))
        #expect(plan.summary.provision == 8)
    }

    @Test func lifecycleOrderForANewNode() throws {
        let desired = try Self.example()
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let kinds = plan.actions.filter { $0.node == "r1n3" }.map(\.kind)
        #expect(kinds == [.writeBootEntry, .setBootPXE, .powerCycle, .installImage, .bootLocal, .installService,
                          .verifyServices])
    }

    @Test func changedImageIsADestructiveReimage() throws {
        let desired = try Self.example()
        var observed = ObservedState().applying(Planner.plan(desired: desired, observed: ObservedState()),
                                                desired: desired)
        observed.nodes["r2n1"]?.image = "debian-12@12.14"
        let plan = Planner.plan(desired: desired, observed: observed)
        #expect(plan.changes == ["r2n1": .reimage])
        let cycle = try #require(plan.actions.first { $0.kind == .powerCycle })
        #expect(cycle.destructive)
        #expect(plan.summary.reimage == 1)
    }

    @Test func serviceChangesUninstallInReverseOrderAndRepairDrift() throws {
        let desired = try Self.example()
        var observed = ObservedState().applying(Planner.plan(desired: desired, observed: ObservedState()),
                                                desired: desired)
        observed.nodes["r1n1"]?.services = ["web", "vod"]   // vod removed from the repo for r1n1
        observed.nodes["r1n3"]?.drifted = ["vod"]            // mediaServer died
        let plan = Planner.plan(desired: desired, observed: observed)
        #expect(plan.changes == ["r1n1": .services, "r1n3": .services])
        let uninstall = try #require(plan.actions.first { $0.node == "r1n1" && $0.kind == .uninstallService })
        #expect(uninstall.detail.contains("std_cs-1.0-1.i386.rpm, std_cd-1.0-1.i386.rpm"))
        #expect(plan.actions.contains { $0.node == "r1n3" && $0.kind == .installService && $0.detail.contains("drift") })
        #expect(plan.summary.destructiveActions == 0)
    }

    @Test func removedNodesAreOrphanedUnlessPruning() throws {
        let desired = try Self.example()
        var observed = ObservedState().applying(Planner.plan(desired: desired, observed: ObservedState()),
                                                desired: desired)
        observed.nodes["old1"] = NodeStatus(phase: .ready, image: "debian-12@12.15", rack: "r1")
        let kept = Planner.plan(desired: desired, observed: observed)
        #expect(kept.isEmpty && kept.orphaned == ["old1"])
        let pruned = Planner.plan(desired: desired, observed: observed, policy: .init(prune: true))
        #expect(pruned.changes == ["old1": .decommission])
        #expect(pruned.actions.map(\.kind) == [.powerOff, .removeBootEntry])
        #expect(pruned.actions.first?.destructive == true)
    }

    @Test(arguments: [(1, 1, 1), (10, 4, 2), (97, 13, 3), (300, 40, 2)])
    func applyingAPlanReachesAFixpoint(nodes: Int, perRack: Int, firstWave: Int) throws {
        let desired = try Self.generated(nodes, perRack: perRack, firstWave: firstWave)
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        #expect(plan.summary.provision == nodes)
        let after = ObservedState().applying(plan, desired: desired)
        #expect(Planner.plan(desired: desired, observed: after).isEmpty)
        #expect(Planner.plan(desired: desired, observed: ObservedState()) == plan, "deterministic")
    }

    @Test func wavesRespectFirstWaveMaxUnavailableAndConcurrency() throws {
        let desired = try Self.generated(300, perRack: 40, firstWave: 2)
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let perNode = Dictionary(plan.actions.map { ($0.node, ($0.rack, $0.wave)) }, uniquingKeysWith: { a, _ in a })
        let byWave = Dictionary(grouping: perNode.values, by: \.1)
        for (_, members) in byWave {
            #expect(members.count <= desired.site.rollout.concurrency)
            let perRack = Dictionary(grouping: members, by: \.0)
            #expect(perRack.values.allSatisfy { $0.count <= desired.site.rollout.maxUnavailable })
        }
        let firstWave = byWave[1] ?? []
        #expect(Dictionary(grouping: firstWave, by: \.0).values.allSatisfy { $0.count == 2 })
        let canary = Planner.plan(desired: desired, observed: ObservedState(), policy: .init(canary: true))
        #expect(Set(canary.actions.filter { $0.wave == 1 }.map(\.node)).count == 1)
    }
}
