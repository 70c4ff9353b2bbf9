/// What a failure means for what happens next (flux's `serror` intents): the one vocabulary every layer's
/// error types map to, and the executor's only input for deciding between stopping, waiting and retrying.
public enum ErrorIntent: Sendable, Hashable {
    /// A human must act (bad credentials, a missing image, a wrong key): the node stops here and waits.
    case stalled
    /// Try again after the given time (a busy BMC, a tracker not up yet, a step still in progress).
    case waiting(retryAfter: Duration)
    /// Try again with exponential backoff and jitter (an unreachable BMC, a timeout, an I/O hiccup).
    case transient
}

/// An error that says what it means for what happens next. Every layer's error type conforms (power, boot, agent,
/// install, the executor's own), so the executor reads one `intent` and never a type-specific classification.
public protocol IntentfulError: Error, CustomStringConvertible {
    var intent: ErrorIntent { get }
}
