import Foundation
import Reconciler
import Testing

/// Where the planner puts a `rekeyAgent` (site key rotation): first among a node's actions, alone when it has
/// none, never on a node to be imaged or on a suspended rack; and how the plan shows it.
struct PlannerRekeyTests {
    /// The example site, every node installed as the repo says.
    static func converged() throws -> (DesiredState, ObservedState) {
        let desired = try PlannerTests.example()
        let observed = ObservedState().applying(Planner.plan(desired: desired, observed: ObservedState()),
                                                desired: desired)
        return (desired, observed)
    }

    @Test func aNodeInSyncGetsTheRekeyAlone() throws {
        let (desired, observed) = try Self.converged()
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        let plan = Planner.plan(desired: desired, observed: observed, policy: .init(rekey: ["r1n1"]))
        #expect(plan.actions.map(\.kind) == [.rekeyAgent])
        #expect(plan.actions.first?.destructive == false)
        #expect(plan.changes == ["r1n1": .rekey])
        #expect(plan.summary.rekey == 1 && plan.summary.serviceChanges == 0)
        // Applying it changes nothing the planner looks at: the next plan (without the rekey) is empty.
        #expect(Planner.plan(desired: desired, observed: observed.applying(plan, desired: desired)).isEmpty)
    }

    @Test func theRekeyComesBeforeTheNodesServiceSteps() throws {
        var (desired, observed) = try Self.converged()
        let node = try #require(desired.nodes.first { !$0.services.isEmpty && $0.state == .present })
        observed.nodes[node.name]?.drifted = [node.serviceNames[0]]
        _ = desired
        let plan = Planner.plan(desired: desired, observed: observed, policy: .init(rekey: [node.name]))
        let kinds = plan.actions.filter { $0.node == node.name }.map(\.kind)
        #expect(kinds.first == .rekeyAgent && kinds.count > 1, "\(kinds)")
        #expect(Set(plan.actions.filter { $0.node == node.name }.map(\.wave)).count == 1)
        #expect(plan.changes[node.name] == .services)
    }

    @Test func noRekeyForNodesToImageOrOnSuspendedRacks() throws {
        let (desired, observed) = try Self.converged()
        let fresh = Planner.plan(desired: desired, observed: ObservedState(), policy: .init(rekey: ["r1n1"]))
        #expect(!fresh.actions.contains { $0.kind == .rekeyAgent }, "a new install brings the new key")
        let rack = try #require(desired.node(named: "r1n1")?.rack.value)
        let suspended = Planner.plan(desired: desired, observed: observed,
                                     policy: .init(suspendedRacks: [rack], rekey: ["r1n1"]))
        #expect(suspended.isEmpty)
        let unknown = Planner.plan(desired: desired, observed: observed, policy: .init(rekey: ["no-such-node"]))
        #expect(unknown.isEmpty)
    }

    @Test func theTextAndJSONPlansShowTheRekey() throws {
        let (desired, observed) = try Self.converged()
        let plan = Planner.plan(desired: desired, observed: observed, policy: .init(rekey: ["r1n1"]))
        let text = PlanRenderer(colour: false).text(plan, site: desired.site.name, commit: nil)
        #expect(text.contains("~ r1n1: rekey"), "\(text)")
        #expect(text.contains("rekeyAgent"))
        #expect(text.contains("1 agent key to rotate"))
        let json = PlanRenderer(colour: false).json(plan, site: desired.site.name, commit: nil)
        #expect(json.contains("\"rekey\" : 1,"))
        #expect(json.contains("\"kind\" : \"rekeyAgent\""), "\(json)")
        let data = try #require(json.data(using: .utf8))
        #expect(try JSONSerialization.jsonObject(with: data) is [String: Any])
    }
}
