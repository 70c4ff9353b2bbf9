import MemberwiseInit
import RackswarmCore

/// A step failed, with its intent.
public struct ActionFailure: IntentfulError, Sendable, Hashable {
    public var message: String
    public var intent: ErrorIntent
    /// True when a retry was due but a maintenance window closed first: the node is held, not failed, and spends
    /// none of the failure budget (the next pass inside a window tries again).
    public var heldByWindow = false

    public init(_ message: String, intent: ErrorIntent, heldByWindow: Bool = false) {
        self.message = message
        self.intent = intent
        self.heldByWindow = heldByWindow
    }

    public var description: String { message }
}

/// What one go at a step says (metal3 `provisioner.Result`): it is finished, or the work it started is still under
/// way and the executor should look again after a while. Failures are thrown, with their intent.
public enum StepResult: Sendable, Hashable {
    case done
    case requeue(after: Duration)
}

/// Which go at a step this is: the attempt (1 = the first; a retry after a failure or a timeout counts up) and how
/// many times this attempt was requeued. A performer starts work when `requeues` is 0 and only looks at it after.
@PublicMemberwiseInit
public struct StepAttempt: Sendable, Hashable {
    public var number: Int
    public var requeues: Int = 0

    /// The first go at a step.
    public static let first = StepAttempt(number: 1)

    /// True when this go starts the attempt rather than looking again at one under way.
    public var isFresh: Bool { requeues == 0 }
}

/// Carries out one planned action on one node: the executor's only way to touch the world. Adapters over the
/// power, boot, seeding and package drivers implement it; tests use a fake (ReconcilerTesting's `FakePerformer`).
public protocol ActionPerformer: Sendable {
    /// Performs `action`, or looks at how far it got. Throws an `IntentfulError` (such as `ActionFailure`) to say
    /// what to do next; any other error counts as transient.
    func perform(_ action: PlannedAction, on node: Node, image: Image?, attempt: StepAttempt) async throws
        -> StepResult
}

extension ActionPerformer {
    /// The first go at `action`.
    @discardableResult
    public func perform(_ action: PlannedAction, on node: Node, image: Image?) async throws -> StepResult {
        try await perform(action, on: node, image: image, attempt: .first)
    }
}
