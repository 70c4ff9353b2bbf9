import Drivers
import DriversTesting
import Foundation
import Logging
import Reconciler
import ReconcilerTesting
import Testing

/// The convergence pass with a fake for every seam: each branch `reconcile apply` takes — heartbeats fresh or stale,
/// an agent that does not answer, an image whose SHA-256 does not match, a suspended rack, a pass an operator asked
/// for, pruning — and the services policy of the same pass.
struct ConvergencePassTests {
    /// A fake world around the example site (two racks of four nodes, managed DHCP).
    struct World {
        let desired: DesiredState
        let store = MemoryStateStore()
        let boot = FakeBootDriver()
        let agent = FakeServiceAgent()
        let dhcp = FakeReservations()
        let powers: [String: FakePowerDriver]
        let output = Output()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var refused: [String: String] = [:]
        var heartbeats: [String: (inventory: NodeInventory, at: Int64)] = [:]

        init(_ change: (inout DesiredState) -> Void = { _ in }) throws {
            var desired = try PlannerTests.example()
            // An install never reports here: its wait ends at this timeout, and the node fails.
            desired.site.timeouts.install = .milliseconds(300)
            change(&desired)
            self.desired = desired
            powers = Dictionary(uniqueKeysWithValues: desired.nodes.map { ($0.name, FakePowerDriver(state: .on)) })
        }

        static let checkout = SiteSource.Checkout(
            directory: Repo.examples.appendingPathComponent("datacenter").path, root: Repo.examples.path,
            commit: "c0ffee")

        /// Records every node of the site as installed with its image, as an earlier pass would have left it.
        func installAll(at time: Date) async throws {
            for node in desired.nodes {
                let image = desired.image(named: node.image.value)?.reference
                await store.record(NodeStatus(phase: .ready, image: image, services: [], rack: node.rack.value),
                                       lastError: nil, for: node.name, at: time)
                await store.remember(RememberedNode(node), at: time)
            }
        }

        /// Records every node of the example site as installed with its services, those this world's repo left
        /// out included (an earlier commit had them): what a prune reaches them through.
        func installEveryExampleNode() async throws {
            let everything = try PlannerTests.example()
            for node in everything.nodes {
                await store.record(
                    NodeStatus(phase: .ready, image: everything.image(named: node.image.value)?.reference,
                               services: node.serviceNames.sorted(), rack: node.rack.value),
                    lastError: nil, for: node.name, at: now)
                await store.remember(RememberedNode(node), at: now)
            }
        }

        func pass(scope: Planner.Policy.Scope = .all) -> ConvergencePass {
            let powers = powers
            let agent = agent
            let dhcp = dhcp
            let refused = refused
            let heartbeats = heartbeats
            let now = now
            let output = output
            let seams = ConvergencePass.Seams(
                checkout: { World.checkout }, store: store,
                power: { _ in
                    { node in
                        guard let driver = powers[node.name] else {
                            throw PowerError(.unknownScheme, bmc: "-", "no fake BMC for \(node.name)")
                        }
                        return driver
                    }
                },
                boot: boot, reservations: { _ in dhcp }, agents: { _ in { _ in agent } },
                images: { _, _ in refused }, heartbeats: { heartbeats }, now: { now })
            return ConvergencePass(seams: seams, policy: .init(scope: scope, executor: .init(maxAttempts: 1)),
                                   say: { output.append($0) }, logger: Logger(label: "test.pass"))
        }

        func run(scope: Planner.Policy.Scope = .all) async throws -> ConvergencePass.Outcome {
            try await pass(scope: scope).run(desired, checkout: World.checkout)
        }

        func inventoryAsked(_ node: String) async -> Bool {
            await agent.calls.contains { $0.node == node && $0.command == .inventory }
        }
    }

    @Test func aFreshHeartbeatStandsInForTheAgentAndAStaleOneDoesNot() async throws {
        var world = try World()
        try await world.installAll(at: world.now.addingTimeInterval(-60))
        let seconds = Int64(world.now.timeIntervalSince1970)
        func inventory(_ node: String) -> NodeInventory {
            NodeInventory(node: node, services: [], packages: [], takenAt: seconds)
        }
        world.heartbeats = [
            "r1n1": (inventory("r1n1"), seconds - 5),  // after the node's last change: fresh
            "r1n2": (inventory("r1n2"), seconds - 90),  // before the node's last change: may predate the install
            "r1n3": (inventory("r1n3"), seconds - 600),  // older than the freshness window
        ]
        _ = try await world.run()
        #expect(await !world.inventoryAsked("r1n1"))
        #expect(await world.inventoryAsked("r1n2"))
        #expect(await world.inventoryAsked("r1n3"))
        #expect(world.output.text.contains("observed 1 node from heartbeats"))
    }

    @Test func aNodeWhoseAgentDoesNotAnswerKeepsItsServiceStepsForLater() async throws {
        let world = try World()
        try await world.installAll(at: world.now)
        await world.agent.fail(node: "r1n3", with: ServiceAgentError(.unreachable, "connection refused"))
        let outcome = try await world.run()
        #expect(outcome.unreachable.keys.sorted() == ["r1n3"])
        #expect(!outcome.plan.actions.contains { $0.node == "r1n3" })
        #expect(outcome.plan.actions.contains { $0.node == "r1n4" && $0.kind == .installService })
        #expect(world.output.text.contains("unreachable: r1n3: unreachable: connection refused"))
        #expect(!outcome.failed, "an unreachable agent does not fail a full pass")
        #expect(try await world.store.lastAppliedCommit() == "c0ffee")
    }

    @Test func anImageWhoseSHADoesNotMatchStallsItsNodesBeforeAnythingIsTouched() async throws {
        var world = try World()
        let image = try #require(world.desired.images.first).reference
        world.refused = [image: "file has SHA-256 00…, the repo says 3f…"]
        let outcome = try await world.run()
        #expect(outcome.failed)
        #expect(outcome.report.halted, "more stalled nodes than the failure budget allows")
        #expect(!outcome.report.stalled.isEmpty && outcome.report.stalled.values.allSatisfy { $0.contains("the repo says") })
        #expect(await world.boot.calls.isEmpty)
        for power in world.powers.values { #expect(await power.calls.isEmpty) }
        #expect(try await world.store.lastAppliedCommit() == nil, "a pass with a stalled node records no commit")
        #expect(world.output.text.contains("stalled: "))
    }

    @Test func aSuspendedRackIsLeftAlone() async throws {
        let world = try World()
        await world.store.suspendRack("r2", actor: "ops", remote: nil, at: world.now)
        let outcome = try await world.pass().run(world.desired, checkout: World.checkout)
        #expect(!outcome.plan.actions.isEmpty)
        #expect(outcome.plan.actions.allSatisfy { $0.rack == "r1" })
        #expect(world.output.text.contains("suspended by an operator: r2"))
    }

    /// Several reconcilers on one store: a pass asks for its share of every rack and plans only the racks it holds.
    @Test func aPassActsOnlyOnTheRacksItHolds() async throws {
        let world = try World()
        let asked = Output()
        let base = world.pass()
        var seams = base.seams
        seams.holdRacks = { racks in
            asked.append(racks.sorted().joined(separator: ","))
            return ["r2"]
        }
        let pass = ConvergencePass(seams: seams, policy: base.policy, say: base.say, logger: base.logger)
        let outcome = try await pass.run(world.desired, checkout: World.checkout)
        #expect(asked.text == "r1,r2")
        #expect(!outcome.plan.actions.isEmpty && outcome.plan.actions.allSatisfy { $0.rack == "r2" })
        #expect(world.output.text.contains("holding 1 of 2 racks: r2"))
        #expect(await world.store.journal(node: nil).allSatisfy { $0.action.rack == "r2" })
    }

    /// `--scope services` on a shared store: services are installed only on the racks this reconciler holds.
    @Test func aServicesPassActsOnlyOnTheRacksItHolds() async throws {
        let world = try World()
        let base = world.pass(scope: .services)
        var seams = base.seams
        seams.holdRacks = { _ in ["r1"] }
        let pass = ConvergencePass(seams: seams, policy: base.policy, say: base.say, logger: base.logger)
        let outcome = try await pass.run(world.desired, checkout: World.checkout)
        #expect(!outcome.plan.actions.isEmpty && outcome.plan.actions.allSatisfy { $0.rack == "r1" })
        #expect(await world.store.journal(node: nil).allSatisfy { $0.action.rack == "r1" })
        #expect(await world.agent.installed.keys.allSatisfy { $0.hasPrefix("r1") }, "no service on r2")
        // Another reconciler's nodes are neither asked nor recorded (their status is its to write).
        #expect(await world.agent.calls.allSatisfy { $0.node.hasPrefix("r1") }, "no agent on r2 asked")
        for node in world.desired.nodes where node.rack.value == "r2" {
            #expect(await world.store.nodeRecord(node.name) == nil, "\(node.name) recorded")
        }
    }

    /// A full pass on a shared store asks the agents of installed nodes only on the racks it holds.
    @Test func aFullPassAsksNoAgentOnAnotherReconcilersRacks() async throws {
        let world = try World()
        try await world.installAll(at: world.now)
        let base = world.pass()
        var seams = base.seams
        seams.holdRacks = { _ in ["r2"] }
        let pass = ConvergencePass(seams: seams, policy: base.policy, say: base.say, logger: base.logger)
        _ = try await pass.run(world.desired, checkout: World.checkout)
        let asked = await world.agent.calls.map(\.node)
        #expect(!asked.isEmpty && asked.allSatisfy { $0.hasPrefix("r2") }, "\(asked)")
    }

    @Test func anOperatorsPassRequestIsAnsweredByTheNextPass() async throws {
        let world = try World()
        try await world.installAll(at: world.now)
        let pass = world.pass()
        #expect(await !pass.passRequested())
        await world.store.requestPass(actor: "ops", remote: nil, at: world.now.addingTimeInterval(-1))
        #expect(await pass.passRequested())
        let outcome = try await pass.runAnsweringRequests()
        #expect(await !pass.passRequested())
        #expect(outcome.plan.actions.allSatisfy { $0.kind == .installService || $0.kind == .verifyServices })
        #expect(await world.dhcp.applied.last?.count == world.desired.nodes.count, "DHCP follows the repo")
    }

    @Test func aNodeThatLeftTheRepoIsPrunedThroughWhatTheStoreKept() async throws {
        let gone = "r2n4"
        let world = try World { desired in
            desired.site.prune = true
            desired.nodes.removeAll { $0.name == gone }
        }
        try await world.installEveryExampleNode()
        let pruned = FakePowerDriver(state: .on)
        let powers = world.powers.merging([gone: pruned]) { _, new in new }
        let seams = ConvergencePass.Seams(
            checkout: { World.checkout }, store: world.store,
            power: { _ in
                { node in
                    guard let driver = powers[node.name] else { throw PowerError(.unknownScheme, bmc: "-", "none") }
                    return driver
                }
            },
            boot: world.boot,
            reservations: { _ in world.dhcp }, agents: { [agent = world.agent] _ in { _ in agent } },
            now: { [now = world.now] in now })
        let outcome = try await ConvergencePass(seams: seams, policy: .init(), say: { _ in },
                                                logger: Logger(label: "test.pass"))
            .run(world.desired, checkout: World.checkout)
        #expect(outcome.plan.changes[gone] == .decommission)
        #expect(outcome.report.completed.contains(gone))
        #expect(await pruned.calls.contains(.setPower(.off)))
        #expect(await world.boot.calls.contains(.remove(gone)))
        #expect(try await world.store.nodeRecord(gone)?.status.phase == .decommissioned)
    }

    /// A node leaving under `decommission.erase` keeps its DHCP reservation until it is decommissioned: the install
    /// environment that erases it needs an address (without it, the VM lab's node fell back to its disk). Without
    /// an erase, the reservation goes with the repo at once.
    @Test func aNodeLeftToEraseKeepsItsReservationUntilDecommissioned() async throws {
        let gone = "r2n4"
        for erase in [DecommissionSettings.Erase.quick, .none] {
            let world = try World { desired in
                desired.site.prune = true
                desired.site.decommission = DecommissionSettings(erase: erase)
                desired.nodes.removeAll { $0.name == gone }
            }
            try await world.installEveryExampleNode()
            _ = try await world.run()
            let first = try #require(await world.dhcp.applied.first)
            #expect(first.contains { $0.node == gone } == (erase != .none), "\(erase): \(first.map(\.node))")
            #expect(first.count == world.desired.nodes.count + (erase != .none ? 1 : 0))
            await world.store.record(NodeStatus(phase: .decommissioned, image: nil, rack: "r2"), lastError: nil,
                                     for: gone, at: world.now)
            _ = try await world.run()
            #expect(await world.dhcp.applied.last?.contains { $0.node == gone } == false, "\(erase)")
        }
    }

    @Test func theServicesPolicyAsksEveryAgentAndTouchesNoBMCNorDHCP() async throws {
        let world = try World()
        await world.agent.fail(node: "r2n2", with: ServiceAgentError(.unreachable, "no route to host"))
        let outcome = try await world.run(scope: .services)
        #expect(outcome.plan.actions.allSatisfy { [.installService, .uninstallService, .verifyServices].contains($0.kind) })
        #expect(!outcome.plan.actions.contains { $0.node == "r2n2" })
        #expect(outcome.unreachable.keys.sorted() == ["r2n2"])
        #expect(outcome.failed, "a services pass fails when a node could not be asked")
        #expect(await world.dhcp.applied.isEmpty)
        for power in world.powers.values { #expect(await power.calls.isEmpty) }
        #expect(await world.agent.installed["r1n3"] == ["vod"])
        #expect(world.output.text.contains("Done: \(outcome.report.actionsDone) of \(outcome.plan.actions.count) "
                                           + "actions, 0 nodes failed, 1 unreachable."))
    }

    @Test func aWrongSiteKeyStallsTheNodeInAFullPass() async throws {
        let world = try World()
        try await world.installAll(at: world.now)
        let refusing = RefusesInstalls(node: "r1n3", inner: world.agent)
        let seams = ConvergencePass.Seams(
            checkout: { World.checkout }, store: world.store, power: { _ in { _ in FakePowerDriver() } },
            boot: world.boot, reservations: { [dhcp = world.dhcp] _ in dhcp }, agents: { _ in { _ in refusing } },
            now: { [now = world.now] in now })
        let outcome = try await ConvergencePass(seams: seams, policy: .init(), say: { _ in },
                                                logger: Logger(label: "test.pass"))
            .run(world.desired, checkout: World.checkout)
        #expect(outcome.report.stalled["r1n3"]?.contains("unauthorized") == true)
        #expect(await refusing.installs.count == 1, "stalled after one attempt, not retried")
    }
}

/// Records the reservations each pass applies.
actor FakeReservations: DHCPReservationDriver {
    private(set) var applied: [[DHCPReservation]] = []

    func apply(_ reservations: [DHCPReservation]) async throws { applied.append(reservations) }
}

/// Collects what a pass says.
final class Output: @unchecked Sendable {
    private let lock = NSLock()
    private var lines = ""

    var text: String { lock.withLock { lines } }

    func append(_ line: String) { lock.withLock { lines += line } }
}
