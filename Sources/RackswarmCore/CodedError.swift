/// The kinds of failure one module can report: a closed enum whose raw values are the words an operator reads.
/// Each kind says what it means for what happens next; one module's code may also say how its errors read.
public protocol ErrorCode: RawRepresentable, Sendable, Hashable where RawValue == String {
    /// What an error of this kind means for what happens next, unless the error itself says more.
    var intent: ErrorIntent { get }

    /// The one line an error of this kind with this detail reads as. Default: `code: detail`, or the code alone
    /// when there is no detail.
    static func describe(_ code: Self, detail: String) -> String
}

extension ErrorCode {
    public static func describe(_ code: Self, detail: String) -> String {
        detail.isEmpty ? code.rawValue : "\(code.rawValue): \(detail)"
    }
}

/// A failure of one kind, with a detail for the operator and its intent. A module's error is this type over the
/// module's own code (`public typealias StorageError = CodedError<StorageErrorCode>`), so every layer's errors
/// carry the same fields, read alike and map to the one `ErrorIntent` the executor acts on.
public struct CodedError<Kind: ErrorCode>: IntentfulError, Sendable, Hashable {
    /// The module's code type, so that `StorageError.Code.open` reads like a nested enum.
    public typealias Code = Kind

    /// The kind of failure.
    public var code: Code
    /// What was involved (a path, a field, a peer, what a server said); never a secret.
    public var detail: String
    /// What to do next: the code's own intent unless the thrower knew better (a Retry-After, a fatal install).
    public var intent: ErrorIntent

    public init(_ code: Code, _ detail: String = "", intent: ErrorIntent? = nil) {
        self.code = code
        self.detail = detail
        self.intent = intent ?? code.intent
    }

    public var description: String { Code.describe(code, detail: detail) }
}
