@testable import Reconciler
import Drivers
import DriversTesting
import Foundation
import Logging
import ReconcilerTesting
import Testing

/// Site key rotation, the reconciler's side, over the real service protocol: in-process agents behind the real
/// `ServiceAgentServer` on loopback, the real clients, the services pass and its executor and journal.
struct KeyRotationPassTests {
    static let oldSite = SiteKey(bytes: Array("rotation-pass-old-site-key-1".utf8))!
    static let newSite = SiteKey(bytes: Array("rotation-pass-new-site-key-2".utf8))!
    static let strange = SiteKey(bytes: Array("rotation-pass-unrelated-key-3".utf8))!

    /// Two nodes of the example site without services: `r1n1` and `r1n2`, plus `r1n3` when asked.
    static func desired(nodes: Set<String> = ["r1n1", "r1n2"]) throws -> DesiredState {
        var desired = try ServiceReconcilerTests.desired()
        desired.nodes = desired.nodes.filter { nodes.contains($0.name) }
        for index in desired.nodes.indices { desired.nodes[index].services = [] }
        return desired
    }

    /// Agents for `keys` (node → the site key its agent key derives from), each behind a server on loopback;
    /// `body` gets the agents and their ports by node.
    static func serving(
        _ keys: [String: SiteKey],
        _ body: ([String: ProvisioningAgent], [String: Int]) async throws -> Void
    ) async throws {
        var agents: [String: ProvisioningAgent] = [:]
        var ports: [String: Int] = [:]
        var tasks: [Task<Void, any Error>] = []
        defer { for task in tasks { task.cancel() } }
        for (node, site) in keys {
            let processes = FakeProcessTable()
            let agent = ProvisioningAgent(
                configuration: .init(node: node), key: site.agentKey(forNode: node), installer: FakePackageInstaller(),
                processes: processes, runner: FakeCommandRunner(processes: processes),
                logger: Logger(label: "test.rotation"))
            let (started, continuation) = AsyncStream.makeStream(of: Int.self)
            let server = ServiceAgentServer(address: AgentAddress(host: "127.0.0.1", port: 0),
                                            logger: Logger(label: "test.rotation")) { await agent.answer($0) }
            tasks.append(Task { try await server.run { continuation.yield($0) } })
            var iterator = started.makeAsyncIterator()
            ports[node] = await iterator.next()
            agents[node] = agent
        }
        try await body(agents, ports)
    }

    static func client(_ port: Int, _ key: SiteKey) -> ServiceAgentClient {
        ServiceAgentClient(address: AgentAddress(host: "127.0.0.1", port: port), key: key, timeout: .seconds(20),
                           logger: Logger(label: "test.rotation"))
    }

    /// The services pass with the current key `newSite` and, when `previous` is set, the previous one.
    static func reconciler(_ desired: DesiredState, _ store: any StateStore, ports: [String: Int],
                           previous: SiteKey?) -> ServiceReconciler {
        ServiceReconciler(
            desired: desired, store: store,
            agents: { client(ports[$0.name] ?? 1, newSite.agentKey(forNode: $0.name)) },
            rotation: { node in
                previous.map {
                    AgentKeyRotation(client: client(ports[node.name] ?? 1, $0.agentKey(forNode: node.name)),
                                     next: newSite.agentKey(forNode: node.name))
                }
            },
            logger: Logger(label: "test.rotation"))
    }

    @Test(.timeLimit(.minutes(5)))
    func aPassRekeysNodesThatHoldThePreviousKeyAndStallsOneThatHoldsNeither() async throws {
        let desired = try Self.desired(nodes: ["r1n1", "r1n2", "r1n3"])
        let keys = ["r1n1": Self.oldSite, "r1n2": Self.oldSite, "r1n3": Self.strange]
        try await Self.serving(keys) { agents, ports in
            let store = MemoryStateStore()
            let pass = try await Self.reconciler(desired, store, ports: ports, previous: Self.oldSite)
                .converge(commit: "c1", sleep: { _ in })
            #expect(pass.plan.actions.map(\.kind) == [.rekeyAgent, .rekeyAgent, .rekeyAgent])
            #expect(pass.plan.changes == ["r1n1": .rekey, "r1n2": .rekey, "r1n3": .rekey])
            #expect(pass.plan.summary.rekey == 3)
            for node in ["r1n1", "r1n2"] {
                #expect(await agents[node]?.key.matches(Self.newSite.agentKey(forNode: node)) == true)
                #expect(await store.journal(node: node).map(\.state) == [.finished])
                #expect(await store.nodeRecord(node)?.lastError == nil)
            }
            // r1n3 refused both: stalled after one attempt, its error naming both attempts.
            let why = try #require(pass.failed["r1n3"])
            #expect(why.contains("agent.keyFile") && why.contains("agent.previousKeyFile"), "\(why)")
            #expect(await store.journal(node: "r1n3").map(\.state) == [.failed])
            #expect(await agents["r1n3"]?.key.matches(Self.strange.agentKey(forNode: "r1n3")) == true)
            // Afterwards: the new keys work, the old ones are refused, and A's key opens only A.
            let newA = Self.newSite.agentKey(forNode: "r1n1")
            #expect(try await Self.client(ports["r1n1"] ?? 0, newA).inventory(of: "r1n1").code == .ok)
            await #expect(throws: ServiceAgentError.self) {
                try await Self.client(ports["r1n1"] ?? 0, Self.oldSite.agentKey(forNode: "r1n1")).inventory(of: "r1n1")
            }
            await #expect(throws: ServiceAgentError.self) {
                try await Self.client(ports["r1n2"] ?? 0, newA).inventory(of: "r1n2")
            }
            // The next pass has nothing to do for the rotated nodes.
            let next = try await Self.reconciler(desired, store, ports: ports, previous: Self.oldSite)
                .converge(commit: "c1", sleep: { _ in })
            #expect(next.plan.actions.filter { $0.node != "r1n3" }.isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func withoutAPreviousKeyNothingIsRekeyedAndTheNodeIsUnreachable() async throws {
        let desired = try Self.desired(nodes: ["r1n1"])
        try await Self.serving(["r1n1": Self.oldSite]) { agents, ports in
            let store = MemoryStateStore()
            let pass = try await Self.reconciler(desired, store, ports: ports, previous: nil)
                .converge(commit: "c1", sleep: { _ in })
            #expect(pass.plan.isEmpty)
            #expect(pass.unreachable["r1n1"]?.contains("unauthorized") == true)
            #expect(await agents["r1n1"]?.key.matches(Self.oldSite.agentKey(forNode: "r1n1")) == true)
        }
    }

    /// The full pass (`reconcile apply` without a scope): installed nodes on the previous key are observed under it
    /// and rekeyed through `DriverActionPerformer`, and the printed plan says so.
    @Test(.timeLimit(.minutes(5)))
    func aFullPassRekeysInstalledNodes() async throws {
        let world = try ConvergencePassTests.World { desired in
            desired.nodes = desired.nodes.filter { ["r1n1", "r1n2"].contains($0.name) }
            for index in desired.nodes.indices { desired.nodes[index].services = [] }
        }
        try await world.installAll(at: world.now)
        try await Self.serving(["r1n1": Self.oldSite, "r1n2": Self.oldSite]) { agents, ports in
            let seams = ConvergencePass.Seams(
                checkout: { ConvergencePassTests.World.checkout }, store: world.store,
                power: { _ in { _ in FakePowerDriver() } }, boot: world.boot,
                reservations: { [dhcp = world.dhcp] _ in dhcp },
                agents: { _ in { Self.client(ports[$0.name] ?? 1, Self.newSite.agentKey(forNode: $0.name)) } },
                rotation: { _ in
                    { node in
                        let old = Self.client(ports[node.name] ?? 1, Self.oldSite.agentKey(forNode: node.name))
                        return AgentKeyRotation(client: old, next: Self.newSite.agentKey(forNode: node.name))
                    }
                },
                now: { [now = world.now] in now })
            let outcome = try await ConvergencePass(seams: seams, policy: .init(), say: { world.output.append($0) },
                                                    logger: Logger(label: "test.rotation"))
                .run(world.desired, checkout: ConvergencePassTests.World.checkout)
            #expect(outcome.plan.actions.map(\.kind) == [.rekeyAgent, .rekeyAgent])
            #expect(outcome.report.stalled.isEmpty && outcome.report.failed.isEmpty && outcome.unreachable.isEmpty)
            #expect(world.output.text.contains("~ r1n1: rekey"), "\(world.output.text)")
            #expect(world.output.text.contains("2 agent keys to rotate"))
            for node in ["r1n1", "r1n2"] {
                #expect(await agents[node]?.key.matches(Self.newSite.agentKey(forNode: node)) == true)
                #expect(await world.store.nodeRecord(node)?.status.phase == .ready)
            }
        }
    }

    /// A journaled `rekeyAgent` run again (its answer was lost, or the reconciler restarted) finds the agent on
    /// the new key and is done without sending another rekey.
    @Test(.timeLimit(.minutes(5)))
    func aRekeyRunAgainAfterTheAgentTookItIsDone() async throws {
        let desired = try Self.desired(nodes: ["r1n1"])
        try await Self.serving(["r1n1": Self.newSite]) { _, ports in
            let spy = RotationSpy()
            let reconciler = ServiceReconciler(
                desired: desired, store: MemoryStateStore(),
                agents: { Self.client(ports[$0.name] ?? 1, Self.newSite.agentKey(forNode: $0.name)) },
                rotation: { _ in spy }, logger: Logger(label: "test.rotation"))
            let node = try #require(desired.node(named: "r1n1"))
            let action = PlannedAction(node: "r1n1", rack: node.rack.value, wave: 1, kind: .rekeyAgent,
                                       destructive: false, detail: "rekey")
            try await reconciler.perform(action, on: node, agent: reconciler.agents(node))
            #expect(await spy.rekeys == 0)
        }
    }
}

/// Counts the rekeys it is asked for.
actor RotationSpy: AgentKeyRotating {
    nonisolated let previous: any ServiceAgentDriver = FakeServiceAgent()
    private(set) var rekeys = 0

    func rekey(node: String) async throws(ServiceAgentError) { rekeys += 1 }
}
