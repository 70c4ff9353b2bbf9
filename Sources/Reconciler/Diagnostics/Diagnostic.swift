import MemberwiseInit

/// One problem found in the site's YAML, located like a compiler error.
public struct Diagnostic: Sendable, Hashable, Codable {
    public enum Severity: String, Sendable, Codable {
        case error
        case warning
        case note
    }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String
    /// A suggested fix, printed as a `note:` line under the caret.
    public var hint: String?
    /// Related places (the first definition of a duplicate, say), printed as notes.
    public var related: [Related]

    @PublicMemberwiseInit
    public struct Related: Sendable, Hashable, Codable {
        public var location: SourceLocation
        public var message: String
    }

    public init(
        _ severity: Severity = .error,
        at location: SourceLocation,
        _ message: String,
        hint: String? = nil,
        related: [Related] = []
    ) {
        self.severity = severity
        self.location = location
        self.message = message
        self.hint = hint
        self.related = related
    }

    public static func error(
        at location: SourceLocation,
        _ message: String,
        hint: String? = nil,
        related: [Related] = []
    ) -> Diagnostic {
        Diagnostic(.error, at: location, message, hint: hint, related: related)
    }
}
