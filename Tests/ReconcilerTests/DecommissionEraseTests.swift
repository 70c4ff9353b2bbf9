import Drivers
import DriversTesting
import Foundation
import LabSupport
import Logging
import Reconciler
import ReconcilerTesting
import Testing

/// `Site.spec.decommission.erase`: a pruned node is booted into the install environment to wipe its disk, and
/// only once it has powered itself off is its entry removed. The real VM run is in `VMConvergenceTests`.
struct DecommissionEraseTests {
    /// The example site, already converged, with r1n2 gone from the repo and pruning on.
    static func leaving(_ erase: DecommissionSettings.Erase) throws -> (DesiredState, ObservedState) {
        var desired = try PlannerTests.example()
        let observed = ObservedState().applying(Planner.plan(desired: desired, observed: ObservedState()),
                                                desired: desired)
        desired.nodes.removeAll { $0.name == "r1n2" }
        desired.site.prune = true
        desired.site.decommission = DecommissionSettings(erase: erase)
        return (desired, observed)
    }

    @Test(arguments: [DecommissionSettings.Erase.quick, .full])
    func aPrunedNodeIsErasedBeforeItsPowerOffAndTheDryRunSaysSo(erase: DecommissionSettings.Erase) throws {
        let (desired, observed) = try Self.leaving(erase)
        let plan = Planner.plan(desired: desired, observed: observed)
        #expect(plan.changes == ["r1n2": .decommission])
        #expect(plan.actions.map(\.kind) == [.writeEraseEntry, .setBootPXE, .powerCycle, .eraseDisks, .powerOff,
                                             .removeBootEntry])
        #expect(plan.actions.first { $0.kind == .eraseDisks }?.destructive == true)
        let text = PlanRenderer().text(plan, site: desired.site.name, commit: nil)
        #expect(text.contains("rackswarm.erase=\(erase.rawValue)"), "\(text)")
        #expect(text.contains("\(erase.rawValue) erase of the node's disk"), "\(text)")
    }

    @Test func withoutEraseAPruneOnlyPowersOff() throws {
        let (desired, observed) = try Self.leaving(.none)
        #expect(Planner.plan(desired: desired, observed: observed).actions.map(\.kind) == [.powerOff, .removeBootEntry])
    }

    /// Writes the example site with one more line under its spec (`decommission: …`); returns the load's result.
    static func load(siteSpec line: String) throws -> (LoadResult, TemporaryDirectory) {
        let directory = try TemporaryDirectory("rackswarm-erase")
        let example = Repo.examples.appendingPathComponent("datacenter").path
        for file in try FileManager.default.subpathsOfDirectory(atPath: example) where file.hasSuffix(".yaml") {
            var text = try String(contentsOfFile: example + "/" + file, encoding: .utf8)
            if file == "site.yaml" { text += "  \(line)\n" }
            try directory.write(file, Data(text.utf8))
        }
        return (SiteLoader.load(path: directory.path), directory)
    }

    @Test func theSiteFieldLoadsAndABadValueIsALocatedError() throws {
        let (good, _) = try Self.load(
            siteSpec: "decommission: {erase: full, kernel: eraser/vmlinuz, initrd: eraser/i.img}")
        let site = try #require(good.state?.site, "\(good.renderDiagnostics())")
        #expect(site.decommission == DecommissionSettings(erase: .full, kernel: "eraser/vmlinuz",
                                                          initrd: "eraser/i.img"))
        #expect(good.state?.eraseKernel?.kernel == "eraser/vmlinuz")
        let (defaulted, _) = try Self.load(siteSpec: "decommission: {erase: quick}")
        // No kernel named: the first image's install environment, with its kernel arguments.
        #expect(defaulted.state?.eraseKernel?.kernel == "installer/vmlinuz")
        #expect(defaulted.state?.eraseKernel?.arguments == ["console=ttyS0"])

        let (bad, _) = try Self.load(siteSpec: "decommission: {erase: shred}")
        #expect(bad.state == nil)
        let rendered = bad.renderDiagnostics()
        #expect(rendered.contains("site.yaml:33:") && rendered.contains("shred"), "\(rendered)")
        let (half, _) = try Self.load(siteSpec: "decommission: {erase: quick, kernel: eraser/vmlinuz}")
        #expect(half.renderDiagnostics().contains("decommission names a kernel without an initrd"),
                "\(half.renderDiagnostics())")
    }

    /// The executor and the real performer over fake drivers: the erase entry carries `rackswarm.erase=`, the
    /// wait ends only when the node is off, and a reconciler restarted mid-erase waits again without a second
    /// power cycle.
    @Test func theEraseWaitsForThePowerOffAndSurvivesARestart() async throws {
        var (desired, _) = try Self.leaving(.full)
        desired.site.timeouts.install = .seconds(30)
        let store = MemoryStateStore()
        let node = RememberedNode(try #require(try PlannerTests.example().node(named: "r1n2")))
        await store.remember(node, at: Date())
        await store.record(NodeStatus(phase: .ready, image: "debian-12@12.15", rack: "r1"), lastError: nil,
                           for: "r1n2", at: Date())
        let power = FakePowerDriver(state: .on)
        let boot = FakeBootDriver()
        var performer = DriverActionPerformer(
            desired: desired, store: store, boot: BootActionExecutor(driver: boot, desired: desired),
            power: { _ in power }, agents: { _ in FakeServiceAgent() }, logger: Logger(label: "test.erase"))
        performer.pollInterval = .milliseconds(20)
        // The example's other nodes are not in this store: only r1n2's steps are run.
        let erasing = Planner.plan(desired: desired, observed: await store.observedState()).actions
            .filter { $0.node == "r1n2" }
        let plan = Plan(actions: erasing, changes: ["r1n2": .decommission])
        #expect(erasing.map(\.kind) == [.writeEraseEntry, .setBootPXE, .powerCycle, .eraseDisks, .powerOff,
                                        .removeBootEntry])

        // A first run stops (the reconciler dies) while the erase runs: its first three steps are done.
        let ids = await store.journalPlanned(erasing, commit: "c2", at: Date())
        for (action, id) in zip(erasing, ids).prefix(3) {
            try await store.journalStarted(id, at: Date())
            _ = try await performer.perform(action, on: node.node, image: nil, attempt: .first)
            try await store.journalFinished(id, at: Date())
        }
        try await store.journalStarted(ids[3], at: Date())
        let entry = try #require(await boot.entries["r1n2"])
        guard case .install(let kernel) = entry.mode else { Issue.record("not an install-environment entry"); return }
        #expect(kernel.kernel == "installer/vmlinuz" && kernel.arguments.suffix(2) == ["rackswarm.node=r1n2",
                                                                                  "rackswarm.erase=full"])
        let callsBefore = await power.calls.count

        // Restarted: the erase is waited on; the node powers itself off 300 ms later.
        // A new process: a performer of its own, which did not power-cycle the node.
        var restarted = DriverActionPerformer(
            desired: desired, store: store, boot: BootActionExecutor(driver: boot, desired: desired),
            power: { _ in power }, agents: { _ in FakeServiceAgent() }, logger: Logger(label: "test.erase"))
        restarted.pollInterval = .milliseconds(20)
        let executor = Executor(desired: desired, store: store, performer: restarted,
                                policy: Executor.Policy(maxAttempts: 2), logger: Logger(label: "test.erase"))
        let started = Date()
        async let report = executor.execute(plan, commit: "c2")
        try await Task.sleep(for: .milliseconds(300))
        #expect(await store.nodeRecord("r1n2")?.status.phase != .decommissioned, "not before the power-off")
        try await power.setPower(.off)
        let result = try await report
        #expect(result.completed.contains("r1n2"), "\(result)")
        #expect(Date().timeIntervalSince(started) >= 0.3)
        let after = await power.calls.dropFirst(callsBefore)
        #expect(!after.contains(.setPower(.on)) && !after.contains(.setPower(.cycle)), "no second boot: \(after)")
        #expect(await boot.entries["r1n2"] == nil, "entry removed")
        #expect(await store.nodeRecord("r1n2")?.status.phase == .decommissioned)
    }

    /// A BMC's power cycle leaves the node off for a moment before the install environment boots: after the
    /// performer's own power cycle, an "off" seen before the node was seen on is not the erase's end (the VM lab's
    /// erase was marked done, and the node powered off, before it ever booted), while the same "off" after it was
    /// seen on is. A performer that did not cycle the node (a restarted reconciler) takes "off" as the end.
    @Test func anOffBeforeTheNodeCameOnIsNotTheEnd() async throws {
        let (desired, _) = try Self.leaving(.quick)
        let node = try #require(try PlannerTests.example().node(named: "r1n2"))
        let power = FakePowerDriver(state: .off)
        func performer() -> DriverActionPerformer {
            var performer = DriverActionPerformer(
                desired: desired, store: MemoryStateStore(),
                boot: BootActionExecutor(driver: FakeBootDriver(), desired: desired),
                power: { _ in power }, agents: { _ in FakeServiceAgent() }, logger: Logger(label: "test.erase"))
            performer.pollInterval = .milliseconds(20)
            return performer
        }
        let first = performer()
        let cycle = PlannedAction(node: "r1n2", rack: "r1", wave: 1, kind: .powerCycle, destructive: true, detail: "")
        let erase = PlannedAction(node: "r1n2", rack: "r1", wave: 1, kind: .eraseDisks, destructive: true, detail: "")
        func look(_ performer: DriverActionPerformer, _ requeues: Int) async throws -> StepResult {
            try await performer.perform(erase, on: node, image: nil,
                                        attempt: StepAttempt(number: 1, requeues: requeues))
        }
        #expect(try await first.perform(cycle, on: node, image: nil, attempt: .first) == .done)
        try await power.setPower(.off)  // the cycle's moment off
        #expect(try await look(first, 0) == .requeue(after: .milliseconds(20)), "off during the cycle: not done")
        #expect(try await look(first, 1) == .requeue(after: .milliseconds(20)))
        try await power.setPower(.on)
        #expect(try await look(first, 2) == .requeue(after: .milliseconds(20)), "erasing")
        try await power.setPower(.off)
        #expect(try await look(first, 3) == .done, "seen on, now off: erased")
        // Restarted after the erase ended: off is the end.
        #expect(try await look(performer(), 0) == .done)
    }
}
