import Foundation
import Logging
import Reconciler
import ReconcilerTesting
import ServiceLifecycle
import Testing

/// SIGTERM during a rollout, as systemd sends it on `systemctl stop`: the nodes in flight finish their steps and no
/// other node starts, so a graceful stop takes one node's steps, which the unit's `TimeoutStopSec` covers.
struct ExecutorShutdownTests {
    /// Runs `body` as the only service of a group, the way `reconcile apply --loop` runs its passes.
    struct Run: ServiceLifecycle.Service {
        let body: @Sendable () async throws -> Void
        func run() async throws { try await body() }
    }

    /// Passes each step to the fake; the first step asks the group to shut down gracefully.
    struct StoppingPerformer: ActionPerformer {
        let inner: FakePerformer
        let group: ServiceGroupBox

        func perform(_ action: PlannedAction, on node: Node, image: Image?, attempt: StepAttempt) async throws
            -> StepResult
        {
            await group.stopOnce()
            return try await inner.perform(action, on: node, image: image, attempt: attempt)
        }
    }

    /// The group, once made, and whether it was told to stop.
    actor ServiceGroupBox {
        var group: ServiceGroup?
        var stopped = false
        func set(_ group: ServiceGroup) { self.group = group }
        func stopOnce() async {
            guard !stopped, let group else { return }
            stopped = true
            await group.triggerGracefulShutdown()
        }
    }

    actor Outcome {
        var report: Executor.Report?
        func set(_ report: Executor.Report) { self.report = report }
    }

    @Test func aGracefulShutdownFinishesTheNodesInFlightAndStartsNoOther() async throws {
        let desired = try PlannerTests.example()
        let store = MemoryStateStore()
        let fake = FakePerformer()
        let box = ServiceGroupBox()
        let outcome = Outcome()
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let executor = Executor(desired: desired, store: store, performer: StoppingPerformer(inner: fake, group: box),
                                policy: Executor.Policy(maxAttempts: 4), logger: Logger(label: "test.executor"),
                                sleep: { _ in }, random: { 0.5 })
        let run = Run { await outcome.set(try await executor.execute(plan, commit: "c1")) }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: run, successTerminationBehavior: .gracefullyShutdownGroup)],
            logger: Logger(label: "test.group")))
        await box.set(group)
        try await group.run()

        let report = try #require(await outcome.report)
        let started = Set(await fake.calls.map(\.node))
        let nodes = Set(plan.actions.map(\.node))
        // Whatever had started finished every one of its steps; nothing else started.
        #expect(!started.isEmpty && Set(report.completed) == started, "\(report)")
        #expect(started.count < nodes.count, "a whole rollout ran despite the stop: \(report)")
        #expect(Set(report.held.keys) == nodes.subtracting(started), "\(report)")
        #expect(report.held.values.allSatisfy { $0 == Executor.stopping })
        #expect(report.failed.isEmpty && report.stalled.isEmpty && !report.halted)
        // Their journal entries end with the reason, and the next run plans them again.
        let journal = await store.journal(node: nil)
        #expect(journal.filter { !started.contains($0.action.node) }
            .allSatisfy { $0.state == .failed && $0.error == Executor.stopping }, "\(journal)")
        #expect(!Planner.plan(desired: desired, observed: await store.observedState()).isEmpty)
    }
}
