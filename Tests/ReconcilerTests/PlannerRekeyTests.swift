import Foundation
import LabSupport
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

/// `agent.previousKeyFile` as the loader reads it: absolute, and not the same file as `agent.keyFile`.
struct PreviousKeyFileLoadingTests {
    static func load(agentLine replacement: String) throws -> (LoadResult, TemporaryDirectory) {
        let directory = try TemporaryDirectory("rackswarm-rekey")
        let example = Repo.examples.appendingPathComponent("datacenter").path
        for file in try FileManager.default.subpathsOfDirectory(atPath: example) where file.hasSuffix(".yaml") {
            var text = try String(contentsOfFile: example + "/" + file, encoding: .utf8)
            if file == "site.yaml" {
                text = text.replacingOccurrences(of: "    keyFile: /etc/rackswarm/site.key\n", with: replacement)
            }
            try directory.write(file, Data(text.utf8))
        }
        return (SiteLoader.load(path: directory.path), directory)
    }

    @Test func previousKeyFileLoadsAndBadOnesAreLocatedErrors() throws {
        let (good, _) = try Self.load(agentLine: "    keyFile: /etc/rackswarm/site.key\n"
                                          + "    previousKeyFile: /etc/rackswarm/site.key.old\n")
        let site = try #require(good.state?.site, "\(good.renderDiagnostics())")
        #expect(site.agent.previousKeyFile == "/etc/rackswarm/site.key.old")
        let (plain, _) = try Self.load(agentLine: "    keyFile: /etc/rackswarm/site.key\n")
        #expect(plain.state?.site.agent.previousKeyFile == nil)

        let (relative, _) = try Self.load(agentLine: "    keyFile: /etc/rackswarm/site.key\n"
                                              + "    previousKeyFile: site.key.old\n")
        #expect(relative.state == nil)
        #expect(relative.renderDiagnostics().contains(
            "site.yaml:31:22: error: agent.previousKeyFile 'site.key.old' must be an absolute path"),
                "\(relative.renderDiagnostics())")
        let (same, _) = try Self.load(agentLine: "    keyFile: /etc/rackswarm/site.key\n"
                                          + "    previousKeyFile: /etc/rackswarm/site.key\n")
        #expect(same.state == nil)
        #expect(same.renderDiagnostics().contains("agent.previousKeyFile names the same file as agent.keyFile"),
                "\(same.renderDiagnostics())")
    }
}
