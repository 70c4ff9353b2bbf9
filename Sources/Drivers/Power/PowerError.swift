/// A power driver call failed; says what happened and what the caller should do about it.
///
/// The description names the BMC (scheme, host and port only) and never a password.
public struct PowerError: IntentfulError, Sendable, Equatable {
    /// What went wrong.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The BMC refused the user name or password.
        case authenticationFailed
        /// The BMC did not answer in time, or could not be reached at all.
        case unreachable
        /// The BMC is alive but busy; try again later.
        case busy
        /// The BMC does not support the request.
        case unsupported
        /// The BMC answered something we cannot understand, or that failed an integrity check.
        case protocolViolation
        /// The BMC answered with an error we have no better class for.
        case bmcError
        /// The BMC address is not a URL a driver can use.
        case invalidAddress
        /// No driver is registered for the URL scheme.
        case unknownScheme
        /// The user lacks the privilege for the request.
        case insufficientPrivilege
    }

    public let code: Code
    /// The BMC as `scheme://host:port`; never credentials.
    public let bmc: String
    /// A human-readable detail; never a secret.
    public let detail: String
    /// What to do next; derived from the code unless the BMC said more (e.g. Retry-After). `stalled`: fix the
    /// credentials, the URL or the BMC, retrying will not help.
    public let intent: ErrorIntent

    public init(_ code: Code, bmc: String, _ detail: String, intent: ErrorIntent? = nil) {
        self.code = code
        self.bmc = bmc
        self.detail = detail
        self.intent = intent ?? Self.defaultIntent(code)
    }

    /// The intent of a code when the BMC gave no hint.
    public static func defaultIntent(_ code: Code) -> ErrorIntent {
        switch code {
        case .authenticationFailed, .unsupported, .invalidAddress, .unknownScheme, .insufficientPrivilege: .stalled
        case .busy: .waiting(retryAfter: .seconds(5))
        case .unreachable, .protocolViolation, .bmcError: .transient
        }
    }

    public var description: String { "\(bmc): \(code.rawValue): \(detail)" }
}
