import Drivers
import Foundation
import Logging
import MemberwiseInit
import ReconcilerMetrics
import ServiceLifecycle

/// Carries out a plan: wave after wave, nodes of a wave side by side under the concurrency cap, each node's
/// actions in order, every action journaled before it starts and after it ends.
///
/// - Retries: transient failures back off exponentially with jitter up to a cap; waiting failures retry after
///   the time they name; stalled failures stop the node at once (a human must act) without holding up others.
/// - Failure budget: once more nodes have failed or stalled than the site allows, the rollout halts — nodes in
///   flight finish, and no node that has not started yet is touched.
/// - Timeouts: every step has one (power steps, the image install, service steps), from the site.
/// - Maintenance windows: actions the plan marks held are not run; before each node starts, and before each
///   retry, the windows are asked again, so a window that closes mid-wave lets nodes in flight finish and starts
///   nothing new (held nodes are listed in the report).
/// - Resume: an action already finished for the same node and commit (by an earlier, interrupted run) is not
///   done again, so a destructive step never repeats; an install found started-but-unfinished is resumed
///   (waited on), not restarted with another power cycle.
public struct Executor: Sendable {
    @PublicMemberwiseInit
    public struct Policy: Sendable, Hashable {
        /// Attempts per action, the first included.
        public var maxAttempts: Int = 5
        public var baseBackoff: Duration = .seconds(2)
        public var maxBackoff: Duration = .seconds(60)
        /// What the run may change. A services-only run never marks a node failed: its installed image stands.
        public var scope: Planner.Policy.Scope = .all
        /// The racks this reconciler holds when several share a store (nil: every rack). Resuming closes only
        /// their interrupted entries: another reconciler's are its own to resume.
        public var racks: Set<String>?
    }

    /// What happened to each node of the plan.
    public struct Report: Sendable, Hashable {
        public var completed: [String] = []
        /// Nodes that wait for a human, with why.
        public var stalled: [String: String] = [:]
        /// Nodes whose retries ran out, with the last error.
        public var failed: [String: String] = [:]
        /// Nodes never started because the failure budget halted the rollout.
        public var skipped: [String] = []
        /// Nodes a closed maintenance window held (with until when), or left for the next run by a stopping reconciler.
        public var held: [String: String] = [:]
        /// Nodes left alone because this reconciler lost its lease on their rack mid-run, with why: the rack's new
        /// holder resumes them from the journal.
        public var lost: [String: String] = [:]
        public var halted = false
        public var actionsDone = 0
    }

    public let desired: DesiredState
    public let store: any StateStore
    public let performer: any ActionPerformer
    public let policy: Policy
    public let logger: Logger
    let sleep: @Sendable (Duration) async throws -> Void
    let random: @Sendable () -> Double
    let now: @Sendable () -> Date
    /// The maintenance windows, as of the pass's start; nil holds nothing.
    let windows: MaintenanceGate?

    public init(
        desired: DesiredState, store: any StateStore, performer: any ActionPerformer, policy: Policy = Policy(),
        logger: Logger, sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
        now: @escaping @Sendable () -> Date = { Date() }, windows: MaintenanceGate? = nil
    ) {
        self.windows = windows
        self.desired = desired
        self.store = store
        self.performer = performer
        self.policy = policy
        self.logger = logger
        self.sleep = sleep
        self.random = random
        self.now = now
    }

    /// The delay before retry number `attempt` (1 = the first retry): exponential, full jitter, capped.
    public func backoff(beforeRetry attempt: Int) -> Duration {
        // The drivers' exponential ceiling; then half fixed, half random: never zero, never in lock-step.
        let capped = RetryPolicy(base: policy.baseBackoff, cap: policy.maxBackoff).delay(beforeRetry: attempt, random: 1)
        return capped / 2 + capped / 2 * random()
    }

    public func execute(_ plan: Plan, commit: String?) async throws -> Report {
        // Resume: if a run for this commit was interrupted (it left actions planned or started), what it
        // finished is not done again, and its unfinished entries are closed as interrupted.
        let earlier = try await store.journal(node: nil).filter {
            $0.commit == commit && (policy.racks?.contains($0.action.rack) ?? true)
        }
        let interrupted = earlier.filter { $0.state == .started || $0.state == .planned }
        var finished: Set<ActionKey> = []
        if let runStart = interrupted.map(\.plannedAt).min() {
            finished = Set(earlier.filter { $0.state == .finished && $0.plannedAt >= runStart }.map { ActionKey($0.action) })
            for entry in interrupted {
                try await store.journalFailed(entry.id, error: "interrupted: the reconciler stopped before this ended",
                                              at: now())
            }
        }
        var report = Report()
        for action in plan.actions { if let why = action.held { report.held[action.node] = why } }
        let todo = plan.actions.filter { $0.held == nil && !finished.contains(ActionKey($0)) }
        let ids = try await store.journalPlanned(todo, commit: commit, at: now())
        var steps: [String: [(PlannedAction, Int64)]] = [:]
        var waves: [Int: [String]] = [:]
        for (action, id) in zip(todo, ids) {
            if steps[action.node] == nil { waves[action.wave, default: []].append(action.node) }
            steps[action.node, default: []].append((action, id))
        }
        let remembered = try await store.rememberedNodes()
        let budget = desired.site.rollout.failureBudget
        let cap = max(1, desired.site.rollout.concurrency)
        for wave in waves.keys.sorted() {
            // Nodes that left the repo are reached through what the store kept; one never provisioned here waits
            // for a human. The others start in plan order, under the concurrency cap (`ExecutorSlots`).
            var starting: [(name: String, node: Node)] = []
            for name in waves[wave] ?? [] {
                if report.halted {
                    try await skip(steps[name] ?? [], reason: "halted: the failure budget (\(budget)) is spent")
                    report.skipped.append(name)
                } else if let node = desired.node(named: name) ?? remembered[name]?.node {
                    starting.append((name, node))
                } else {
                    let why = "node is not in the repo any more and was never provisioned by rackswarm; "
                        + "its BMC is unknown, so power it off by hand"
                    try await skip(steps[name] ?? [], reason: why)
                    report.stalled[name] = why
                }
            }
            let slots = ExecutorSlots(cap, order: starting.map(\.name))
            try await withThrowingTaskGroup(of: NodeResult.self) { group in
                for (name, node) in starting {
                    let nodeSteps = steps[name] ?? []
                    group.addTask {
                        guard await slots.start(name) else {
                            return NodeResult(node: name, outcome: .skipped, done: 0, holdsSlot: false)
                        }
                        // A reconciler told to stop (SIGTERM) starts no further node: the nodes in flight finish their
                        // steps, the rest are planned again by the next run. This bounds a graceful stop by one
                        // node's steps (the unit's TimeoutStopSec), not by the whole rollout.
                        if Task.isShuttingDownGracefully {
                            return NodeResult(node: name, outcome: .held(Self.stopping), done: 0)
                        }
                        // The window may have closed since the plan was made: a node not yet started waits for it.
                        if let windows, let why = nodeSteps.lazy.compactMap({ windows.hold($0.0, at: now()) }).first {
                            return NodeResult(node: name, outcome: .held(why), done: 0)
                        }
                        return try await run(nodeSteps, on: node, slots: slots)
                    }
                }
                do {
                    while let result = try await group.next() {
                        // The finished node's slot goes to the next one only once the budget has been looked at.
                        defer { if result.holdsSlot { slots.release() } }
                        report.actionsDone += result.done
                        switch result.outcome {
                        case .lost(let why): report.lost[result.node] = why
                        case .completed: report.completed.append(result.node)
                        case .stalled(let why): report.stalled[result.node] = why
                        case .failed(let why): report.failed[result.node] = why
                        case .skipped:
                            try await skip(steps[result.node] ?? [],
                                           reason: "halted: the failure budget (\(budget)) is spent")
                            report.skipped.append(result.node)
                        case .held(let why):
                            try await skip(steps[result.node] ?? [], reason: why)
                            report.held[result.node] = why
                        case .heldMidway(let why):
                            report.held[result.node] = why
                        }
                        if report.stalled.count + report.failed.count > budget && !report.halted {
                            report.halted = true
                            slots.halt()
                            logger.error("failure budget spent; halting the rollout", metadata: [
                                "budget": "\(budget)", "error.code": "failureBudgetSpent",
                            ])
                        }
                    }
                } catch {
                    slots.close()
                    throw error
                }
            }
        }
        report.completed.sort()
        ReconcilerMetrics.executionEnded(succeeded: report.stalled.isEmpty && report.failed.isEmpty,
                                         halted: report.halted, at: now().timeIntervalSince1970)
        return report
    }

    /// Why a node did not start: the process is shutting down gracefully.
    public static let stopping = "the reconciler is stopping; the next run takes this node up"

    enum Outcome: Sendable {
        case lost(String)
        case completed
        case stalled(String)
        case failed(String)
        /// Never started: the rollout halted first.
        case skipped
        /// Never started: a maintenance window closed first.
        case held(String)
        /// Started, and a step's retry fell after the window closed: its steps are journaled already.
        case heldMidway(String)
    }

    struct NodeResult: Sendable {
        var node: String
        var outcome: Outcome
        var done: Int
        /// True when the node ends holding a slot, which the wave's loop gives back.
        var holdsSlot = true
    }

    private func skip(_ steps: [(PlannedAction, Int64)], reason: String) async throws {
        for (_, id) in steps { try await store.journalFailed(id, error: reason, at: now()) }
    }

    /// Runs a node's steps; a journal write the store refuses because the rack's lease is gone ends the node's run
    /// at once, with nothing more written: the rack's new holder finds the entries as they were.
    private func run(_ steps: [(PlannedAction, Int64)], on node: Node, slots: ExecutorSlots) async throws
        -> NodeResult
    {
        do {
            return try await runSteps(steps, on: node, slots: slots)
        } catch let error as StateStoreError where error.code == .leaseLost {
            logger.warning("rack lease lost; leaving the node to the rack's new holder", metadata: [
                "node": "\(node.name)", "rack": "\(node.rack.value)", "error.code": "leaseLost",
            ])
            return NodeResult(node: node.name, outcome: .lost(error.detail), done: 0)
        }
    }

    private func runSteps(_ steps: [(PlannedAction, Int64)], on node: Node, slots: ExecutorSlots) async throws
        -> NodeResult
    {
        let image = desired.image(named: node.image.value)
        var done = 0
        for (index, (action, id)) in steps.enumerated() {
            try await store.journalStarted(id, at: now())
            let fields: Logger.Metadata = [
                "node": "\(node.name)", "rack": "\(action.rack)", "action.kind": "\(action.kind.rawValue)",
                "action.id": "\(id)",
            ]
            logger.info("action started", metadata: fields)
            let failure = await attempt(action, on: node, image: image, slots: slots)
            ReconcilerMetrics.actionFinished(kind: action.kind.rawValue, ok: failure == nil)
            guard let failure else {
                logger.info("action finished", metadata: fields.merging(["outcome": "done"]) { $1 })
                try await store.journalFinished(id, at: now())
                done += 1
                continue
            }
            try await store.journalFailed(id, error: failure.message, at: now())
            try await skip(Array(steps.dropFirst(index + 1)),
                           reason: "not run: \(action.kind.rawValue) failed before it")
            var status = try await store.nodeRecord(node.name)?.status ?? NodeStatus(phase: .unknown)
            status.rack = node.rack.value
            if failure.heldByWindow {
                // Not a failure: the window closed before the retry. The node's phase stays; the next pass retries.
                try await store.record(status, lastError: failure.message, for: node.name, at: now())
                logger.notice("action held", metadata: fields.merging(["outcome": "held",
                                                                       "error": "\(failure.message)"]) { $1 })
                return NodeResult(node: node.name, outcome: .heldMidway(failure.message), done: done)
            }
            if failure.intent != .stalled && policy.scope == .all { status.phase = .failed }
            try await store.record(status, lastError: failure.message, for: node.name, at: now())
            logger.warning("action finished", metadata: fields.merging([
                "outcome": "\(failure.intent == .stalled ? "stalled" : "failed")",
                "error.code": "\(failure.intent == .stalled ? "stalled" : "failed")", "error": "\(failure.message)",
            ]) { $1 })
            let outcome: Outcome = failure.intent == .stalled ? .stalled(failure.message) : .failed(failure.message)
            return NodeResult(node: node.name, outcome: outcome, done: done)
        }
        try await recordSuccess(of: steps.map(\.0), on: node, image: image)
        return NodeResult(node: node.name, outcome: .completed, done: done)
    }

    /// Performs one action with its timeout and retries; nil when it succeeded. A performer that requeues is asked
    /// again after the time it names, within the same attempt and the step's timeout. While it waits — for a look
    /// again or for a retry — the node holds no slot, so other nodes' steps go on.
    private func attempt(_ action: PlannedAction, on node: Node, image: Image?, slots: ExecutorSlots) async
        -> ActionFailure?
    {
        var last = ActionFailure("not attempted", intent: .transient)
        for attempt in 1...max(1, policy.maxAttempts) {
            do {
                try await withTimeout(timeout(for: action.kind)) {
                    var step = StepAttempt(number: attempt)
                    while case .requeue(let after) = try await performer.perform(
                        action, on: node, image: image, attempt: step)
                    {
                        step.requeues += 1
                        try await slots.released { try await sleep(after) }
                    }
                }
                return nil
            } catch is CancellationError {
                return ActionFailure("cancelled", intent: .transient)
            } catch let error as any IntentfulError {
                last = ActionFailure(error.description, intent: error.intent)
            } catch {
                last = ActionFailure(String(describing: error), intent: .transient)
            }
            let delay: Duration
            switch last.intent {
            case .stalled: return last
            case .waiting(let retryAfter): delay = retryAfter
            case .transient: delay = backoff(beforeRetry: attempt)
            }
            guard attempt < policy.maxAttempts else { break }
            if let windows, let why = windows.hold(action, at: now().addingTimeInterval(Double(delay.wholeSeconds))) {
                return ActionFailure("\(last.message); not retried: \(why), the maintenance window closes first",
                                     intent: last.intent, heldByWindow: true)
            }
            logger.notice("retrying", metadata: [
                "node": "\(node.name)", "action.kind": "\(action.kind.rawValue)", "attempt": "\(attempt)",
                "error": "\(last.message)",
            ])
            do {
                try await slots.released { try await sleep(delay) }
            } catch {
                return ActionFailure("cancelled", intent: .transient)
            }
        }
        return ActionFailure("\(last.message) (gave up after \(policy.maxAttempts) attempts)", intent: last.intent)
    }

    private func timeout(for kind: PlannedAction.Kind) -> Duration {
        let timeouts = desired.site.timeouts
        switch kind {
        case .installImage, .eraseDisks: return timeouts.install
        case .installService, .uninstallService, .verifyServices, .rekeyAgent: return timeouts.services
        default: return timeouts.power
        }
    }

    private func withTimeout(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            let finishedInTime = try await group.next() ?? false
            group.cancelAll()
            if !finishedInTime {
                throw ActionFailure("timed out after \(limit.wholeSeconds) s", intent: .transient)
            }
        }
    }

    private func recordSuccess(of actions: [PlannedAction], on node: Node, image: Image?) async throws {
        var status = try await store.nodeRecord(node.name)?.status ?? NodeStatus(phase: .unknown)
        status.rack = node.rack.value
        let kinds = Set(actions.map(\.kind))
        if kinds.contains(.powerOff) {
            status.phase = .decommissioned
        } else {
            status.phase = .ready
            if kinds.contains(.installImage) { status.image = image?.reference }
            if kinds.contains(.installService) || kinds.contains(.uninstallService) || kinds.contains(.installImage) {
                status.services = node.serviceNames.sorted()
                status.drifted = []
            }
        }
        try await store.record(status, lastError: nil, for: node.name, at: now())
        // Keep how to reach it: if it leaves the repo, its decommission still finds its BMC and boot entry.
        if status.phase != .decommissioned, desired.node(named: node.name) != nil {
            try await store.remember(RememberedNode(node), at: now())
        }
    }
}

/// Identifies an action across runs: node, kind and (for services) the service.
struct ActionKey: Hashable {
    var node: String
    var kind: PlannedAction.Kind
    var service: String?

    init(_ action: PlannedAction) {
        node = action.node
        kind = action.kind
        service = action.service
    }
}
