import Drivers
import Foundation
import Logging
import Reconciler
import ReconcilerTesting
import Testing

/// Records backoff sleeps instead of sleeping.
final class SleepLog: @unchecked Sendable {
    private let lock = NSLock()
    private var durations: [Duration] = []

    var all: [Duration] { lock.withLock { durations } }

    func sleep(_ duration: Duration) async throws {
        append(duration)
    }

    private func append(_ duration: Duration) {
        lock.withLock { durations.append(duration) }
    }
}

/// The executor with fake drivers and a test clock: waves, retries, stalls, the failure budget, resume.
struct ExecutorTests {
    let log = SleepLog()

    func executor(_ desired: DesiredState, _ store: any StateStore, _ performer: FakePerformer,
                  policy: Executor.Policy = Executor.Policy(maxAttempts: 4)) -> Executor {
        let log = self.log
        return Executor(desired: desired, store: store, performer: performer, policy: policy,
                        logger: Logger(label: "test.executor"), sleep: { try await log.sleep($0) },
                        random: { 0.5 })
    }

    @Test func convergesWaveByWaveToAFixpoint() async throws {
        let desired = try PlannerTests.example()
        let store = MemoryStateStore()
        let performer = FakePerformer()
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let report = try await executor(desired, store, performer).execute(plan, commit: "c1")
        #expect(report.completed.count == 8 && report.failed.isEmpty && report.stalled.isEmpty && !report.halted)
        #expect(report.actionsDone == plan.actions.count)
        let calls = await performer.calls
        // Every wave-1 node finished everything before any later-wave node started.
        let waveOf = Dictionary(plan.actions.map { ($0.node, $0.wave) }, uniquingKeysWith: { a, _ in a })
        let lastFirstWave = try #require(calls.lastIndex { waveOf[$0.node] == 1 })
        let firstLater = try #require(calls.firstIndex { (waveOf[$0.node] ?? 0) > 1 })
        #expect(lastFirstWave < firstLater)
        // Lifecycle order per node.
        #expect(calls.filter { $0.node == "r1n3" }.map(\.kind) == [
            .writeBootEntry, .setBootPXE, .powerCycle, .installImage, .bootLocal, .installService, .verifyServices,
        ])
        let observed = await store.observedState()
        #expect(observed.nodes["r1n3"] == NodeStatus(phase: .ready, image: "debian-12@12.15", services: ["vod"],
                                                     rack: "r1"))
        #expect(Planner.plan(desired: desired, observed: observed).isEmpty)
        #expect(await store.journal(node: nil).allSatisfy { $0.state == .finished })
    }

    @Test func transientFailuresBackOffWithJitterAndRecover() async throws {
        let desired = try PlannerTests.example()
        let store = MemoryStateStore()
        let performer = FakePerformer()
        await performer.fail("r1n1", .powerCycle, with: [
            ActionFailure("BMC unreachable", intent: .transient), ActionFailure("BMC unreachable", intent: .transient),
        ])
        await performer.fail("r2n1", .setBootPXE, with: [ActionFailure("busy", intent: .waiting(retryAfter: .seconds(7)))])
        let report = try await executor(desired, store, performer)
            .execute(Planner.plan(desired: desired, observed: ObservedState()), commit: "c1")
        #expect(report.completed.count == 8)
        #expect(await performer.calls.filter { $0 == .init(node: "r1n1", kind: .powerCycle) }.count == 3)
        // base 2 s: retry 1 waits 2 s × (0.5 + 0.5 × 0.5), retry 2 waits 4 s × 0.75; the busy BMC asked for 7 s.
        #expect(Set(log.all) == [.milliseconds(1500), .seconds(3), .seconds(7)])
        let executor = executor(desired, store, performer, policy: .init(baseBackoff: .seconds(2), maxBackoff: .seconds(10)))
        #expect(executor.backoff(beforeRetry: 10) == .milliseconds(7500), "capped at 10 s before jitter")
    }

    @Test func aRequeuedStepIsLookedAtAgainWithoutSpendingAnAttempt() async throws {
        let desired = try PlannerTests.example()
        let store = MemoryStateStore()
        let performer = FakePerformer()
        await performer.requeue("r1n1", .installImage, times: 3, after: .seconds(4))
        let report = try await executor(desired, store, performer, policy: .init(maxAttempts: 1))
            .execute(Planner.plan(desired: desired, observed: ObservedState()), commit: "c1")
        #expect(report.completed.count == 8, "three requeues fit in one attempt")
        let installs = await zip(performer.calls, performer.attempts).filter { $0.0 == .init(node: "r1n1", kind: .installImage) }
        #expect(installs.map(\.1) == (0...3).map { StepAttempt(number: 1, requeues: $0) })
        #expect(log.all == [.seconds(4), .seconds(4), .seconds(4)], "the executor waited, as the step asked")
    }

    @Test func aWaitingStepGivesItsSlotToOtherNodes() async throws {
        var desired = try PlannerTests.example()
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let firstWave = plan.actions.filter { $0.wave == 1 }.map(\.node).reduce(into: [String]()) { names, name in
            if !names.contains(name) { names.append(name) }
        }
        try #require(firstWave.count >= 2)
        let (waiting, other) = (firstWave[0], firstWave[1])
        // One slot for the whole wave: the other node can only go on if the waiting one lets its slot go.
        desired.site.rollout.concurrency = 1
        let performer = FakePerformer()
        await performer.requeue(waiting, .installImage, times: 1, after: .seconds(60))
        let otherDone = FakePerformer.Call(node: other, kind: .verifyServices)
        let executor = Executor(
            desired: desired, store: MemoryStateStore(), performer: performer, logger: Logger(label: "test.executor"),
            sleep: { _ in
                // The wait ends once the other node has finished all its steps (or, if it never may, after 5 s).
                var tries = 0
                while await !performer.calls.contains(otherDone), tries < 500 {
                    tries += 1
                    try await Task.sleep(for: .milliseconds(10))
                }
            })
        let report = try await executor.execute(plan, commit: "c1")
        #expect(report.completed.count == 8)
        let calls = await performer.calls
        let installs = calls.indices.filter { calls[$0] == .init(node: waiting, kind: .installImage) }
        let otherSteps = calls.indices.filter { calls[$0].node == other }
        try #require(installs.count == 2 && !otherSteps.isEmpty)
        #expect(otherSteps.allSatisfy { $0 > installs[0] && $0 < installs[1] },
                "every step of \(other) ran while \(waiting)'s install waited: \(calls)")
    }

    @Test func anErrorKeepsItsOwnIntentThroughTheExecutor() async throws {
        let desired = try PlannerTests.example()
        let store = MemoryStateStore()
        let performer = FakePerformer()
        await performer.fail("r1n1", .installService, with: [ServiceAgentError(.unauthorized, "wrong site key")])
        await performer.fail("r2n1", .setBootPXE, with: [PowerError(.busy, bmc: "ipmi://b", "busy")])
        let report = try await executor(desired, store, performer)
            .execute(Planner.plan(desired: desired, observed: ObservedState()), commit: "c1")
        #expect(report.stalled["r1n1"]?.contains("unauthorized") == true)
        #expect(await performer.calls.filter { $0 == .init(node: "r1n1", kind: .installService) }.count == 1)
        #expect(log.all == [.seconds(5)], "a busy BMC waits the time it names, then goes on")
        #expect(report.completed.contains("r2n1"))
    }

    @Test func stalledNodeWaitsForAHumanAndOthersGoOn() async throws {
        let desired = try PlannerTests.example()
        let store = MemoryStateStore()
        let performer = FakePerformer()
        await performer.fail("r2n1", .setBootPXE, with: [ActionFailure("BMC refused the password", intent: .stalled)])
        let report = try await executor(desired, store, performer)
            .execute(Planner.plan(desired: desired, observed: ObservedState()), commit: "c1")
        #expect(report.stalled == ["r2n1": "BMC refused the password"])
        #expect(report.completed.count == 7)
        #expect(await performer.calls.filter { $0.node == "r2n1" }.map(\.kind) == [.writeBootEntry, .setBootPXE])
        let journal = await store.journal(node: "r2n1")
        #expect(journal.map(\.state) == [.finished, .failed, .failed, .failed, .failed, .failed, .failed])
        #expect(await store.nodeRecord("r2n1")?.lastError == "BMC refused the password")
    }

    @Test func failureBudgetHaltsNewNodesButLetsInFlightOnesFinish() async throws {
        var desired = try PlannerTests.example()
        desired.site.rollout.failureBudget = 0
        let store = MemoryStateStore()
        let performer = FakePerformer()
        await performer.fail("r1n1", .powerCycle, with: [ActionFailure("no such image", intent: .stalled)])
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        let report = try await executor(desired, store, performer).execute(plan, commit: "c1")
        #expect(report.halted)
        #expect(report.completed == ["r2n1"], "the other first-wave node was in flight and finished")
        #expect(report.skipped.sorted() == ["r1n2", "r1n3", "r1n4", "r2n2", "r2n3", "r2n4"])
        let touched = Set(await performer.calls.map(\.node))
        #expect(touched == ["r1n1", "r2n1"], "no destructive step started after the halt")
        #expect(await store.journal(node: "r1n4").allSatisfy { $0.state == .failed && $0.error?.hasPrefix("halted") == true })
    }

    @Test func resumeAfterACrashNeverRepeatsACompletedDestructiveStep() async throws {
        let desired = try PlannerTests.example()
        let store = MemoryStateStore()
        let plan = Planner.plan(desired: desired, observed: ObservedState())
        // An earlier run for the same commit was killed: r1n1 got as far as starting its image install.
        let ids = await store.journalPlanned(plan.actions, commit: "c1", at: Date())
        for (action, id) in zip(plan.actions, ids) where action.node == "r1n1" {
            try await store.journalStarted(id, at: Date())
            if action.kind == .installImage { break }
            try await store.journalFinished(id, at: Date())
        }
        let performer = FakePerformer()
        let report = try await executor(desired, store, performer).execute(plan, commit: "c1")
        #expect(report.completed.count == 8)
        #expect(await performer.calls.filter { $0.node == "r1n1" }.map(\.kind) == [
            .installImage, .bootLocal, .installService, .verifyServices,
        ], "no second power cycle: the install is resumed")
        let journal = await store.journal(node: "r1n1")
        #expect(journal.filter { $0.action.kind == .powerCycle && $0.state == .finished }.count == 1)
        #expect(journal.contains { $0.state == .failed && $0.error?.hasPrefix("interrupted") == true })
        #expect(await store.unfinishedActions().isEmpty)
    }

    @Test func aStepThatNeverReportsTimesOutAndIsRetried() async throws {
        var desired = try PlannerTests.example()
        desired.site.timeouts.power = .milliseconds(200)
        let store = MemoryStateStore()
        let performer = FakePerformer()
        await performer.hang("r1n2", .setBootPXE)
        let report = try await executor(desired, store, performer, policy: .init(maxAttempts: 2))
            .execute(Planner.plan(desired: desired, observed: ObservedState()), commit: "c1")
        #expect(report.failed["r1n2"]?.contains("timed out") == true)
        #expect(await performer.calls.filter { $0 == .init(node: "r1n2", kind: .setBootPXE) }.count == 2)
        #expect(await store.nodeRecord("r1n2")?.status.phase == .failed)
        #expect(report.completed.count == 7)
    }

    @Test func aNodeThatLeftTheRepoIsDecommissionedThroughWhatTheStoreKept() async throws {
        var desired = try PlannerTests.example()
        let store = MemoryStateStore()
        let performer = FakePerformer()
        // First every node is provisioned: the executor keeps how to reach each one.
        _ = try await executor(desired, store, performer)
            .execute(Planner.plan(desired: desired, observed: ObservedState()), commit: "c1")
        #expect(await store.rememberedNodes()["r1n2"]?.bmc == desired.node(named: "r1n2")?.bmc.endpoint.value)
        // Then r1n2 leaves the repo, and the site prunes.
        desired.nodes.removeAll { $0.name == "r1n2" }
        desired.site.prune = true
        let plan = Planner.plan(desired: desired, observed: await store.observedState())
        #expect(plan.actions.filter { $0.node == "r1n2" }.map(\.kind) == [.powerOff, .removeBootEntry])
        let report = try await executor(desired, store, performer).execute(plan, commit: "c2")
        #expect(report.stalled.isEmpty, "\(report.stalled)")
        #expect(await performer.calls.suffix(2) == [.init(node: "r1n2", kind: .powerOff),
                                                    .init(node: "r1n2", kind: .removeBootEntry)])
        #expect(await store.nodeRecord("r1n2")?.status.phase == .decommissioned)
    }

    @Test func aNodeNeverProvisionedHereThatLeftTheRepoWaitsForAHuman() async throws {
        var desired = try PlannerTests.example()
        let store = MemoryStateStore()
        await store.record(NodeStatus(phase: .ready, image: "debian-12@12.15", rack: "r1"), lastError: nil,
                           for: "r1n2", at: Date())
        desired.nodes.removeAll { $0.name == "r1n2" }
        desired.site.prune = true
        let plan = Planner.plan(desired: desired, observed: await store.observedState())
        let report = try await executor(desired, store, FakePerformer()).execute(plan, commit: "c1")
        #expect(report.stalled["r1n2"]?.contains("power it off by hand") == true)
    }
}
