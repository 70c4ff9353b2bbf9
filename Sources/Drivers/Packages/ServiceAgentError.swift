/// A service-agent call failed; says what happened and what the caller should do about it.
///
/// Names the agent by `host:port` and never the site key.
public struct ServiceAgentError: Error, Sendable, Equatable, CustomStringConvertible {
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

    /// What a caller should do after this error (flux `serror`).
    public enum Disposition: Sendable, Equatable {
        /// A human must act (fix the key, the address, the clock); retrying will not help.
        case stalled
        /// Try again after the given delay.
        case waiting(retryAfter: Duration)
        /// Retry with exponential backoff and jitter.
        case transient
    }

    public let code: Code
    public let detail: String
    public let disposition: Disposition

    public init(_ code: Code, _ detail: String, disposition: Disposition? = nil) {
        self.code = code
        self.detail = detail
        self.disposition = disposition ?? Self.defaultDisposition(code)
    }

    /// The disposition of a code.
    public static func defaultDisposition(_ code: Code) -> Disposition {
        switch code {
        case .unauthorized, .badKey, .invalidAddress: .stalled
        case .busy: .waiting(retryAfter: .seconds(5))
        case .unreachable, .timedOut, .protocolViolation: .transient
        }
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
