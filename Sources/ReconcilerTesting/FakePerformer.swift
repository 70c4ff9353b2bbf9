import MemberwiseInit
import Reconciler

/// A performer that records every call and fails, requeues or hangs on cue: the executor's tests drive it instead of
/// real drivers.
public actor FakePerformer: ActionPerformer {
    /// One call the fake got.
    @PublicMemberwiseInit
    public struct Call: Sendable, Hashable {
        public var node: String
        public var kind: PlannedAction.Kind
    }

    /// Every call, in order (requeued looks included).
    public private(set) var calls: [Call] = []
    /// The attempts each call was made with, in order.
    public private(set) var attempts: [StepAttempt] = []
    private var scripted: [Call: [any Error & Sendable]] = [:]
    private var requeues: [Call: (count: Int, after: Duration)] = [:]
    private var hanging: Set<Call> = []

    public init() {}

    /// Errors to throw, in order, for a node and action kind; then success.
    public func fail(_ node: String, _ kind: PlannedAction.Kind, with failures: [any Error & Sendable]) {
        scripted[Call(node: node, kind: kind)] = failures
    }

    /// Answers `requeue(after:)` `count` times for a node and action kind before `done`.
    public func requeue(_ node: String, _ kind: PlannedAction.Kind, times count: Int, after: Duration) {
        requeues[Call(node: node, kind: kind)] = (count, after)
    }

    /// Makes the step never end (for timeouts and shutdowns).
    public func hang(_ node: String, _ kind: PlannedAction.Kind) {
        hanging.insert(Call(node: node, kind: kind))
    }

    public nonisolated func perform(_ action: PlannedAction, on node: Node, image: Image?, attempt: StepAttempt)
        async throws -> StepResult
    {
        let call = Call(node: node.name, kind: action.kind)
        if let failure = await record(call, attempt) { throw failure }
        if await hanging.contains(call) { try await Task.sleep(for: .seconds(3600)) }
        if let after = await takeRequeue(call) { return .requeue(after: after) }
        return .done
    }

    private func record(_ call: Call, _ attempt: StepAttempt) -> (any Error)? {
        calls.append(call)
        attempts.append(attempt)
        guard var failures = scripted[call], !failures.isEmpty else { return nil }
        let first = failures.removeFirst()
        scripted[call] = failures
        return first
    }

    private func takeRequeue(_ call: Call) -> Duration? {
        guard let pending = requeues[call], pending.count > 0 else { return nil }
        requeues[call] = (pending.count - 1, pending.after)
        return pending.after
    }
}
