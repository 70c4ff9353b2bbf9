/// A service-agent call failed; says what happened and what the caller should do about it.
///
/// Names the agent by `host:port` and never the site key.
public typealias ServiceAgentError = CodedError<ServiceAgentErrorCode>

/// What went wrong in a service-agent call.
public enum ServiceAgentErrorCode: String, ErrorCode, Codable, CaseIterable {
    /// The agent could not be reached, or the connection broke before an answer.
    case unreachable
    /// No answer in time.
    case timedOut
    /// The agent refused our signature (wrong site key, clock skew) — or its answer failed our check.
    case unauthorized
    /// The agent's answer was garbled or did not match the request.
    case protocolViolation
    /// The agent is busy with another request for this node.
    case busy
    /// The site key file is missing, unreadable or too short.
    case badKey
    /// The agent address is not `HOST:PORT`.
    case invalidAddress

    /// What to do next: `stalled` when a human must fix the key, the address or the clock.
    public var intent: ErrorIntent {
        switch self {
        case .unauthorized, .badKey, .invalidAddress: .stalled
        case .busy: .waiting(retryAfter: .seconds(5))
        case .unreachable, .timedOut, .protocolViolation: .transient
        }
    }

    public static func describe(_ code: Self, detail: String) -> String { "\(code.rawValue): \(detail)" }
}
