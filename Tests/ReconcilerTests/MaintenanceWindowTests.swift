import Drivers
import DriversTesting
import Foundation
import LabSupport
import Logging
import Reconciler
import ReconcilerTesting
import Testing

/// An ISO 8601 date, for short test lines.
func d(_ text: String) throws -> Date { try MaintenanceWindowTests.date(text) }

/// A clock a test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) {
        current = start
    }

    var now: Date { lock.withLock { current } }

    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
}

/// A performer whose every step takes `step` seconds of the test clock.
actor ClockedPerformer: ActionPerformer {
    let clock: TestClock
    let step: TimeInterval
    var calls: [(node: String, kind: PlannedAction.Kind, at: Date)] = []
    var failOnce: Set<String> = []

    init(clock: TestClock, step: TimeInterval) {
        self.clock = clock
        self.step = step
    }

    func failOnceAt(_ node: String, _ kind: PlannedAction.Kind) { failOnce.insert("\(node)/\(kind.rawValue)") }

    nonisolated func perform(_ action: PlannedAction, on node: Node, image: Image?, attempt: StepAttempt)
        async throws -> StepResult
    {
        try await record(action, node.name)
        return .done
    }

    private func record(_ action: PlannedAction, _ node: String) throws {
        calls.append((node, action.kind, clock.now))
        clock.advance(step)
        if failOnce.remove("\(node)/\(action.kind.rawValue)") != nil {
            throw ActionFailure("BMC busy", intent: .transient)
        }
    }
}

/// Maintenance windows: weekly ranges and cron openings in a time zone, the plan's `held until`, and every path
/// that could start an action — the pass (timer or operator request), the executor's node starts, its retries and
/// a resumed journal — with an injected clock.
struct MaintenanceWindowTests {
    static func date(_ text: String) throws -> Date {
        try #require(ISO8601DateFormatter().date(from: text))
    }

    static let here = SourceLocation(file: "site.yaml", line: 1, column: 1)

    static func weekly(_ days: Set<Int>, _ start: Int, _ end: Int, zone: String = "UTC") throws -> MaintenanceWindow {
        MaintenanceWindow(schedule: .weekly(days: days, start: start, end: end),
                          timeZone: try #require(TimeZone(identifier: zone)), location: here)
    }

    /// Tuesdays 02:00–05:00 UTC (2026-12-08 is a Tuesday).
    static func tuesdayNights() throws -> MaintenanceWindows {
        MaintenanceWindows(windows: [try weekly([2], 120, 300)])
    }

    @Test func weeklyRangesOpenAndCloseInTheirTimeZone() throws {
        let windows = try Self.tuesdayNights()
        #expect(windows.openUntil(try d("2026-12-07T10:00:00Z")) == nil)
        #expect(windows.nextOpening(after: try d("2026-12-07T10:00:00Z")) == (try d("2026-12-08T02:00:00Z")))
        #expect(windows.openUntil(try d("2026-12-08T03:30:20Z")) == (try d("2026-12-08T05:00:00Z")))
        #expect(windows.openUntil(try d("2026-12-08T05:00:00Z")) == nil)
        // 03:00–06:00 in Berlin is 02:00–05:00 UTC in winter.
        let berlin = MaintenanceWindows(windows: [try Self.weekly([2], 180, 360, zone: "Europe/Berlin")])
        #expect(berlin.nextOpening(after: try d("2026-12-07T10:00:00Z")) == (try d("2026-12-08T02:00:00Z")))
        #expect(berlin.openUntil(try d("2026-12-08T04:59:00Z")) == (try d("2026-12-08T05:00:00Z")))
        // Saturday 22:00 to 02:00 crosses midnight into Sunday.
        let late = MaintenanceWindows(windows: [try Self.weekly([6], 22 * 60, 120)])
        #expect(late.openUntil(try d("2026-12-06T01:00:00Z")) == (try d("2026-12-06T02:00:00Z")))
        #expect(late.openUntil(try d("2026-12-06T02:30:00Z")) == nil)
    }

    @Test func cronOpeningsLastTheirDuration() throws {
        let cron = try CronExpression(parsing: "0 2 * * 2")
        let windows = MaintenanceWindows(windows: [
            MaintenanceWindow(schedule: .cron(cron, minutes: 180), timeZone: .gmt, location: Self.here),
        ])
        #expect(windows.openUntil(try d("2026-12-08T03:30:00Z")) == (try d("2026-12-08T05:00:00Z")))
        #expect(windows.openUntil(try d("2026-12-08T05:00:00Z")) == nil)
        #expect(windows.nextOpening(after: try d("2026-12-08T05:00:00Z")) == (try d("2026-12-15T02:00:00Z")))
        let steps = try CronExpression(parsing: "*/15 1-3 1,15 * *")
        #expect(steps.minutes == [0, 15, 30, 45] && steps.hours == [1, 2, 3] && steps.days == [1, 15])
        #expect(throws: CronError.self) { try CronExpression(parsing: "61 * * * *") }
        #expect(throws: CronError.self) { try CronExpression(parsing: "0 2 * *") }
    }

    @Test func theDryRunMarksHeldActions() throws {
        var desired = try PlannerTests.example()
        desired.site.windows = try Self.tuesdayNights()
        let now = try d("2026-12-07T10:00:00Z")
        let plan = MaintenanceGate(desired, at: now).marking(Planner.plan(desired: desired, observed: .init()), at: now)
        #expect(!plan.actions.isEmpty && plan.actions.allSatisfy { $0.held == "held until 2026-12-08T02:00Z" })
        let text = PlanRenderer().text(plan, site: "dc1", commit: nil)
        #expect(text.contains("[held until 2026-12-08T02:00Z]"))
        #expect(text.contains("\(plan.actions.count) held by a maintenance window"))
        let json = PlanRenderer().json(plan, site: "dc1", commit: nil)
        #expect(json.contains("\"held\" : \"held until 2026-12-08T02:00Z\""))
        // Inside the window nothing is held; a rack with its own (always closed on Mondays) windows is.
        let open = try d("2026-12-08T02:30:00Z")
        #expect(MaintenanceGate(desired, at: open).marking(Planner.plan(desired: desired, observed: .init()), at: open)
            .actions.allSatisfy { $0.held == nil })
        desired.racks[0].windows = MaintenanceWindows(windows: [try Self.weekly([1], 0, 60)])
        let rackHeld = MaintenanceGate(desired, at: open)
            .marking(Planner.plan(desired: desired, observed: .init()), at: open)
        #expect(rackHeld.actions.filter { $0.held != nil }.allSatisfy { $0.rack == desired.racks[0].name })
        #expect(rackHeld.actions.contains { $0.held != nil } && rackHeld.actions.contains { $0.held == nil })
    }

    @Test func serviceChangesRunOutsideDestructiveOnlyWindowsButNotWithScopeAll() throws {
        var desired = try PlannerTests.example()
        desired.site.windows = try Self.tuesdayNights()
        var observed = ObservedState()
        for node in desired.nodes {
            let image = desired.image(named: node.image.value)?.reference
            observed.nodes[node.name] = NodeStatus(phase: .ready, image: image, services: [], rack: node.rack.value)
        }
        let now = try d("2026-12-07T10:00:00Z")
        let services = Planner.plan(desired: desired, observed: observed)
        #expect(!services.actions.isEmpty && services.actions.allSatisfy { !$0.destructive })
        #expect(MaintenanceGate(desired, at: now).marking(services, at: now).actions.allSatisfy { $0.held == nil })
        desired.site.windows.scope = .all
        #expect(MaintenanceGate(desired, at: now).marking(services, at: now).actions.allSatisfy { $0.held != nil })
    }

    @Test func aWindowThatClosesMidWaveLetsInFlightNodesFinishAndStartsNoOther() async throws {
        var desired = try PlannerTests.example()
        desired.site.windows = MaintenanceWindows(windows: [try Self.weekly([2], 120, 180)])
        desired.site.rollout.concurrency = 1
        let clock = TestClock(try d("2026-12-08T02:00:00Z"))
        let performer = ClockedPerformer(clock: clock, step: 600)  // every step takes ten minutes
        let store = MemoryStateStore()
        let gate = MaintenanceGate(desired, at: clock.now)
        let plan = gate.marking(Planner.plan(desired: desired, observed: .init()), at: clock.now)
        #expect(plan.actions.allSatisfy { $0.held == nil })
        let executor = Executor(desired: desired, store: store, performer: performer, policy: .init(maxAttempts: 2),
                                logger: Logger(label: "test.windows"), sleep: { _ in }, now: { clock.now },
                                windows: gate)
        let report = try await executor.execute(plan, commit: "c1")
        let calls = await performer.calls
        let first = try #require(calls.first?.node)
        // The first node started inside the window and finished every step, though the window closed at 03:00.
        #expect(Set(calls.map(\.node)) == [first])
        #expect(calls.count == plan.actions.filter { $0.node == first }.count)
        #expect(try #require(calls.last?.at) >= (try d("2026-12-08T03:00:00Z")))
        #expect(report.completed == [first])
        #expect(report.held.count == desired.nodes.count - 1)
        #expect(report.held.values.allSatisfy { $0 == "held until 2026-12-15T02:00Z" })
        let journal = await store.journal(node: nil)
        #expect(journal.filter { $0.action.node != first }.allSatisfy { $0.state == .failed })
    }

    @Test func aRetryDoesNotStartAfterTheWindowClosedAndTheHeldNodeSpendsNoBudget() async throws {
        var desired = try PlannerTests.example()
        desired.site.windows = MaintenanceWindows(windows: [try Self.weekly([2], 120, 150)])
        desired.site.rollout.failureBudget = 0  // one failed node would halt the rollout
        let clock = TestClock(try d("2026-12-08T02:20:00Z"))
        let performer = ClockedPerformer(clock: clock, step: 240)
        await performer.failOnceAt("r1n1", .installImage)
        let gate = MaintenanceGate(desired, at: clock.now)
        var plan = gate.marking(Planner.plan(desired: desired, observed: .init()), at: clock.now)
        plan.actions = plan.actions.filter { $0.node == "r1n1" }
        let executor = Executor(desired: desired, store: MemoryStateStore(), performer: performer,
                                policy: .init(maxAttempts: 3), logger: Logger(label: "test.windows"),
                                sleep: { _ in }, now: { clock.now }, windows: gate)
        let report = try await executor.execute(plan, commit: "c1")
        let installs = await performer.calls.filter { $0.kind == .installImage }
        #expect(installs.count == 1, "the failed install was retried after the window closed")
        // Held, not failed: the budget is untouched, and the next pass inside a window tries again.
        #expect(report.held["r1n1"]?.contains("not retried: held until 2026-12-15T02:00Z") == true, "\(report)")
        #expect(report.failed.isEmpty && report.stalled.isEmpty && !report.halted, "\(report)")
    }

    @Test func aResumedJournalWaitsForTheWindow() async throws {
        var desired = try PlannerTests.example()
        desired.site.windows = try Self.tuesdayNights()
        let store = MemoryStateStore()
        let full = Planner.plan(desired: desired, observed: .init())
        // An earlier run of the same commit was killed while r1n1 power cycled.
        let ids = await store.journalPlanned(full.actions, commit: "c1", at: try d("2026-12-08T04:50:00Z"))
        try await store.journalStarted(ids[0], at: try d("2026-12-08T04:50:30Z"))
        try await store.journalFinished(ids[0], at: try d("2026-12-08T04:51:00Z"))
        try await store.journalStarted(ids[1], at: try d("2026-12-08T04:52:00Z"))
        let now = try d("2026-12-08T06:00:00Z")
        let gate = MaintenanceGate(desired, at: now)
        let performer = FakePerformer()
        let executor = Executor(desired: desired, store: store, performer: performer,
                                logger: Logger(label: "test.windows"), sleep: { _ in }, now: { now }, windows: gate)
        let report = try await executor.execute(gate.marking(full, at: now), commit: "c1")
        #expect(await performer.calls.isEmpty)
        #expect(report.held.count == desired.nodes.count)
        #expect(await store.journal(node: nil).allSatisfy { $0.state != .started && $0.state != .planned })
    }

    /// The example site with `rollout.windows` written into its YAML.
    static func siteWithWindows(_ windows: String) async throws -> TemporaryDirectory {
        let temp = try TemporaryDirectory("rackswarm-windows")
        _ = try await runProcess("/bin/cp", ["-r", Repo.examples.appendingPathComponent("datacenter").path + "/.", temp.path])
        let site = temp.path + "/site.yaml"
        let text = try String(contentsOfFile: site, encoding: .utf8)
        try text.replacingOccurrences(of: "    canary: false\n", with: "    canary: false\n" + windows)
            .write(toFile: site, atomically: true, encoding: .utf8)
        return temp
    }

    @Test func anOperatorsPassHonoursTheWindowsOfTheCommit() async throws {
        let temp = try await Self.siteWithWindows("""
                windowScope: destructive
                windows:
                  - days: [tue]
                    start: "02:00"
                    end: "05:00"
                    timeZone: UTC
                  - cron: "0 3 1 * *"
                    duration: 2h
                    timeZone: Europe/Berlin

            """)
        let world = try ConvergencePassTests.World()  // now: 2027-01-15T08:00Z, a Friday
        let base = world.pass()
        var seams = base.seams
        let checkout = SiteSource.Checkout(directory: temp.path, root: temp.path, commit: "c2")
        seams.checkout = { checkout }
        let pass = ConvergencePass(seams: seams, policy: base.policy, say: base.say, logger: base.logger)
        await world.store.requestPass(actor: "ops", remote: nil, at: world.now)
        let outcome = try await pass.runAnsweringRequests()
        #expect(outcome.report.held.count == world.desired.nodes.count)
        #expect(outcome.report.held.values.allSatisfy { $0 == "held until 2027-01-19T02:00Z" })
        // Held nodes are no failure: `reconcile apply` exits 0 and prints why.
        #expect(!outcome.failed && outcome.blocked == nil)
        #expect(world.output.text.contains(", \(world.desired.nodes.count) held."), "\(world.output.text)")
        for driver in world.powers.values { #expect(await driver.calls.isEmpty) }
        #expect(world.output.text.contains("[held until 2027-01-19T02:00Z]"))
    }

    @Test func badWindowsAreLocatedErrors() async throws {
        let temp = try await Self.siteWithWindows("""
                windows:
                  - days: [tue, someday]
                    start: 12:30
                    end: "25:00"
                    timeZone: Mars/Olympus
                  - cron: "0 2 * *"
                    duration: 1h
                    timeZone: UTC

            """)
        let result = SiteLoader.load(path: temp.path)
        let text = result.renderDiagnostics()
        #expect(result.state == nil)
        // YAML 1.1 reads an unquoted 12:30 as the base-60 integer 750: the loader says to quote it.
        #expect(text.contains("site.yaml:25:21: error: unknown day 'someday'"), "\(text)")
        #expect(text.contains("site.yaml:26:16: error: expected a string for start"), "\(text)")
        #expect(text.contains("site.yaml:27:14: error: end must be a time of day as \"HH:MM\", found '25:00'"),
                "\(text)")
        #expect(text.contains("site.yaml:28:19: error: unknown time zone 'Mars/Olympus'"), "\(text)")
        #expect(text.contains("site.yaml:29:15: error: invalid cron expression '0 2 * *': expected 5 fields"),
                "\(text)")
    }
}
