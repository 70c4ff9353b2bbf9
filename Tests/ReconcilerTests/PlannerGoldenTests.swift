import Foundation
import Reconciler
import Testing

/// The text plan an operator reads, for each lifecycle branch, against golden files.
struct PlannerGoldenTests {
    enum Scenario: String, CaseIterable, CustomTestStringConvertible {
        case firstInstall = "first-install"
        case inSync = "in-sync"
        case reimage
        case serviceChanges = "service-changes"
        case decommissionPruned = "decommission-pruned"
        case orphanedNotPruned = "orphaned-not-pruned"
        case canary

        var testDescription: String { rawValue }
    }

    func plan(_ scenario: Scenario) throws -> String {
        let desired = try PlannerTests.example()
        let converged = ObservedState().applying(Planner.plan(desired: desired, observed: ObservedState()),
                                                 desired: desired)
        var observed = converged
        var policy = Planner.Policy()
        switch scenario {
        case .firstInstall:
            observed = ObservedState()
        case .inSync:
            break
        case .reimage:
            observed.nodes["r2n2"]?.image = "debian-12@12.14"
            observed.nodes["r1n1"]?.phase = .failed
        case .serviceChanges:
            observed.nodes["r1n1"]?.services = ["web", "vod"]
            observed.nodes["r2n1"]?.drifted = ["vod"]
            observed.nodes["r2n3"]?.services = ["web"]
        case .decommissionPruned, .orphanedNotPruned:
            observed.nodes["r3n1"] = NodeStatus(phase: .ready, image: "debian-12@12.15", services: [], rack: "r3")
            policy.prune = scenario == .decommissionPruned
        case .canary:
            observed = ObservedState()
            policy.canary = true
        }
        let plan = Planner.plan(desired: desired, observed: observed, policy: policy)
        return PlanRenderer().text(plan, site: desired.site.name, commit: "0123456789abcdef0123456789abcdef01234567")
    }

    @Test(arguments: Scenario.allCases)
    func planMatchesGolden(scenario: Scenario) throws {
        let text = try plan(scenario)
        let golden = Repo.fixtures.appendingPathComponent("plans/\(scenario.rawValue).txt")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try text.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(text == (try String(contentsOf: golden, encoding: .utf8)))
    }
}
