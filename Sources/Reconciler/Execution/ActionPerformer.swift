import RackswarmCore

/// A step failed, with its intent.
public struct ActionFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var intent: ErrorIntent

    public init(_ message: String, intent: ErrorIntent) {
        self.message = message
        self.intent = intent
    }

    public var description: String { message }
}

/// Carries out one planned action on one node: the executor's only way to touch the world. Adapters over the
/// power, boot, seeding and package drivers implement it; tests use a fake.
public protocol ActionPerformer: Sendable {
    /// Performs `action`. Throws `ActionFailure` to say what to do next; any other error counts as transient.
    func perform(_ action: PlannedAction, on node: Node, image: Image?) async throws
}
