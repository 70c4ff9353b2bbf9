/// A service-agent call failed; says what happened and what the caller should do about it.
///
/// Names the agent by `host:port` and never the site key.
public struct ServiceAgentError: IntentfulError, Sendable, Equatable {
    /// What went wrong.
    public enum Code: String, Sendable, Codable, CaseIterable {
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
    }

    public let code: Code
    public let detail: String
    /// What to do next: `stalled` when a human must fix the key, the address or the clock.
    public let intent: ErrorIntent

    public init(_ code: Code, _ detail: String, intent: ErrorIntent? = nil) {
        self.code = code
        self.detail = detail
        self.intent = intent ?? Self.defaultIntent(code)
    }

    /// The intent of a code.
    public static func defaultIntent(_ code: Code) -> ErrorIntent {
        switch code {
        case .unauthorized, .badKey, .invalidAddress: .stalled
        case .busy: .waiting(retryAfter: .seconds(5))
        case .unreachable, .timedOut, .protocolViolation: .transient
        }
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
