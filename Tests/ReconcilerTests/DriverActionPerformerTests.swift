import Drivers
import DriversTesting
import Foundation
import LabSupport
import Logging
import Reconciler
import ReconcilerTesting
import Synchronization
import Testing

/// The performer that routes actions to the drivers: power through the BMC driver, the install watched through
/// its reports, boot entries through the boot driver, and the install desk's entry flip on `rebooting`.
struct DriverActionPerformerTests {
    struct Rig {
        let desired: DesiredState
        let store: any StateStore = MemoryStateStore()
        let power: FakePowerDriver
        let boot = FakeBootDriver()
        let agent = FakeServiceAgent()
        let performer: DriverActionPerformer
        /// Requeues so far: each one a look at the node that found the action not done yet.
        let requeues = RequeueCount()

        init(state: PowerState = .off, refused: [String: String] = [:]) throws {
            desired = try PlannerTests.example()
            let power = FakePowerDriver(state: state)
            self.power = power
            let agent = agent
            var performer = DriverActionPerformer(
                desired: desired, store: store, boot: BootActionExecutor(driver: boot, desired: desired),
                power: { _ in power }, agents: { _ in agent }, refusedImages: refused,
                logger: Logger(label: "test.performer"))
            performer.pollInterval = .milliseconds(10)
            self.performer = performer
        }

        var node: Node { desired.node(named: "r1n1")! }
        var image: Image { desired.image(named: node.image.value)! }

        func action(_ kind: PlannedAction.Kind) -> PlannedAction {
            PlannedAction(node: node.name, rack: node.rack.value, wave: 0, kind: kind, destructive: false, detail: "")
        }

        /// Journals and performs `kind` as the executor would (the install wait reads the power cycle's time),
        /// looking again while the performer requeues.
        func run(_ kind: PlannedAction.Kind, attempt: Int = 1) async throws {
            let id = try await store.journalPlanned([action(kind)], commit: "c1", at: Date())[0]
            try await store.journalStarted(id, at: Date())
            try await perform(kind, attempt: attempt)
            try await store.journalFinished(id, at: Date())
        }

        /// Performs `kind` until it is done, as the executor's requeue loop does.
        func perform(_ kind: PlannedAction.Kind, attempt: Int = 1) async throws {
            var step = StepAttempt(number: attempt)
            while case .requeue(let after) = try await performer.perform(action(kind), on: node, image: image,
                                                                        attempt: step) {
                #expect(after == .milliseconds(10))
                step.requeues += 1
                requeues.add()
                try await Task.sleep(for: after)
            }
        }
    }

    @Test func powerCycleTurnsAnOffNodeOnAndCyclesARunningOne() async throws {
        let off = try Rig(state: .off)
        try await off.run(.setBootPXE)
        try await off.run(.powerCycle)
        #expect(await off.power.calls == [.setBootDevice(.pxe, .once), .powerState, .setPower(.on)])
        let on = try Rig(state: .on)
        try await on.run(.powerCycle)
        #expect(await on.power.calls == [.powerState, .setPower(.cycle)])
    }

    @Test func badCredentialsStallTheNode() async throws {
        let rig = try Rig()
        await rig.power.failNext(PowerError(.authenticationFailed, bmc: "ipmi://127.0.0.1:9101", "RAKP 2 refused"))
        let error = await #expect(throws: PowerError.self) { try await rig.run(.setBootPXE) }
        #expect(error?.intent == .stalled)
        #expect(error?.description.contains("RAKP 2 refused") == true)
    }

    @Test func aRefusedImageStallsBeforeAnythingIsTouched() async throws {
        let rig = try Rig(refused: ["debian-12@12.15": "file has SHA-256 00…, the repo says 3f…"])
        let error = await #expect(throws: ActionFailure.self) { try await rig.run(.writeBootEntry) }
        #expect(error?.intent == .stalled)
        #expect(error?.message.contains("the repo says") == true)
        #expect(await rig.boot.calls.isEmpty)
        #expect(await rig.power.calls.isEmpty)
    }

    @Test func theInstallWaitEndsAtRebootingAndIgnoresReportsFromBeforeTheCycle() async throws {
        let rig = try Rig()
        // A report from an earlier install must not count.
        try await rig.store.recordInstall(InstallReport(phase: .rebooting, image: rig.image.reference),
                                          for: "r1n1", at: Date(timeIntervalSinceNow: -60))
        try await rig.run(.powerCycle)
        let looked = rig.requeues.value
        let wait = Task { try await rig.run(.installImage) }
        // Once the performer has looked at the reports and requeued, the old `rebooting` has not ended the wait (a
        // fixed sleep here failed on a loaded machine, where the task had not started yet).
        #expect(await eventually(30) { rig.requeues.value > looked })
        #expect(try await rig.store.journal(node: "r1n1").last?.state == .started)
        for phase in [InstallReport.Phase.booted, .downloading, .written, .postInstalled, .rebooting] {
            try await rig.store.recordInstall(InstallReport(phase: phase, image: rig.image.reference), for: "r1n1",
                                              at: Date())
        }
        try await wait.value
        #expect(try await rig.store.journal(node: "r1n1").last?.state == .finished)
    }

    @Test func aFailedInstallIsTransientAndItsRetryBootsTheNodeAgain() async throws {
        let rig = try Rig(state: .on)
        try await rig.run(.powerCycle)
        try await rig.store.recordInstall(
            InstallReport(phase: .failed, image: rig.image.reference, error: "post action hostname exited 1"),
            for: "r1n1", at: Date())
        let error = await #expect(throws: ActionFailure.self) { try await rig.perform(.installImage) }
        #expect(error?.intent == .transient)
        #expect(error?.message.contains("post action hostname exited 1") == true)
        let before = await rig.power.calls.count
        // The retry: PXE next and a new power cycle, then it waits for fresh reports.
        let looked = rig.requeues.value
        let retry = Task { try await rig.perform(.installImage, attempt: 2) }
        #expect(await eventually(30) { rig.requeues.value > looked }, "the retry never waited for reports")
        #expect(Array(await rig.power.calls.dropFirst(before))
                == [.setBootDevice(.pxe, .once), .powerState, .setPower(.cycle)])
        // The old failure does not end the new wait; the new install's reports do.
        try await rig.store.recordInstall(InstallReport(phase: .rebooting, image: rig.image.reference), for: "r1n1",
                                          at: Date())
        try await retry.value
    }

    /// A failure the install environment marks as one that repeats (a disk smaller than the image: nothing was
    /// written) stalls the node with its message, through the SQLite store's round trip of the report.
    @Test func aDiskTooSmallForTheImageStallsTheNode() async throws {
        let rig = try Rig(state: .on)
        try await rig.run(.powerCycle)
        let directory = try TemporaryDirectory("rackswarm-stall")
        let sqlite = try SQLiteStateStore(path: directory.path + "/state.db")
        var report = InstallReport(phase: .failed, image: rig.image.reference,
                                   error: "disk /dev/vda holds 1073741824 bytes but image debian-12@12.15 has "
                                       + "2147483648: nothing was written")
        report.stalled = true
        try await sqlite.recordInstall(report, for: "r1n1", at: Date())
        try await rig.store.recordInstall(try #require(try await sqlite.installProgress(of: "r1n1")).report,
                                          for: "r1n1", at: Date())
        let error = await #expect(throws: ActionFailure.self) { try await rig.perform(.installImage) }
        #expect(error?.intent == .stalled)
        #expect(error?.message.contains("holds 1073741824 bytes but image") == true)
    }

    /// The install wait timed out (the executor retries), but the install's `rebooting` report came in before the
    /// retry: the retry finds the install done and neither sets PXE nor power-cycles the node again.
    @Test func aRetryAfterAnInstallFinishedAsItsWaitTimedOutBootsNothing() async throws {
        let rig = try Rig(state: .on)
        try await rig.run(.powerCycle)
        let first = try await rig.performer.perform(rig.action(.installImage), on: rig.node, image: rig.image)
        #expect(first == .requeue(after: .milliseconds(10)))
        try await rig.store.recordInstall(InstallReport(phase: .rebooting, image: rig.image.reference), for: "r1n1",
                                          at: Date())
        let before = await rig.power.calls.count
        let retry = try await rig.performer.perform(rig.action(.installImage), on: rig.node, image: rig.image,
                                                    attempt: StepAttempt(number: 2))
        #expect(retry == .done)
        #expect(Array(await rig.power.calls.dropFirst(before)).isEmpty, "no second power cycle")
    }

    @Test func aRunningInstallIsRequeuedNotWaitedOnInsideThePerformer() async throws {
        let rig = try Rig()
        try await rig.run(.powerCycle)
        let first = try await rig.performer.perform(rig.action(.installImage), on: rig.node, image: rig.image)
        #expect(first == .requeue(after: .milliseconds(10)), "no report yet: look again later")
        try await rig.store.recordInstall(InstallReport(phase: .downloading, image: rig.image.reference, percent: 40),
                                          for: "r1n1", at: Date())
        let again = try await rig.performer.perform(rig.action(.installImage), on: rig.node, image: rig.image,
                                                    attempt: StepAttempt(number: 1, requeues: 1))
        #expect(again == .requeue(after: .milliseconds(10)))
        try await rig.store.recordInstall(InstallReport(phase: .rebooting, image: rig.image.reference), for: "r1n1",
                                          at: Date())
        let last = try await rig.performer.perform(rig.action(.installImage), on: rig.node, image: rig.image,
                                                   attempt: StepAttempt(number: 1, requeues: 2))
        #expect(last == .done)
        #expect(await rig.power.calls == [.powerState, .setPower(.on)], "the first attempt never power-cycles again")
    }

    @Test func aWrongSiteKeyStallsTheLocalBootCheck() async throws {
        let rig = try Rig()
        await rig.agent.fail(node: "r1n1", with: ServiceAgentError(.unauthorized, "wrong site key"))
        let error = await #expect(throws: ServiceAgentError.self) { try await rig.perform(.bootLocal) }
        #expect(error?.intent == .stalled)
    }

    @Test func rebootingFlipsTheEntryBeforeTheReportIsRecorded() async throws {
        let rig = try Rig()
        let desk = InstallDesk(desired: rig.desired, store: rig.store, boot: rig.boot,
                               logger: Logger(label: "test.desk"))
        let instructions = try #require(await desk.instructions(for: "r1n1"))
        #expect(instructions.image == rig.image.reference)
        #expect(instructions.postInstall.map(\.name) == rig.image.postInstall.map(\.name))
        #expect(await desk.instructions(for: "nope") == nil)
        try await desk.receive(InstallReport(phase: .downloading, image: rig.image.reference, percent: 50),
                               from: "r1n1")
        #expect(await rig.boot.calls.isEmpty)
        try await desk.receive(InstallReport(phase: .rebooting, image: rig.image.reference), from: "r1n1")
        #expect(await rig.boot.entries["r1n1"]?.mode == .localBoot)
        #expect(try await rig.store.installProgress()["r1n1"]?.report.phase == .rebooting)
        await #expect(throws: InstallDesk.UnknownNode.self) {
            try await desk.receive(InstallReport(phase: .booted, image: "x@1"), from: "nope")
        }
    }
}

/// A count shared with the tasks a test starts.
final class RequeueCount: Sendable {
    private let count = Mutex(0)

    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
