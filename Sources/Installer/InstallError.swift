import RackswarmCore

/// Why an install stopped, with the intent the reconciler's error handling reads: `stalled` needs a human (a bad
/// image, a failing post action), `transient` may work on the next attempt (the server was unreachable).
public typealias InstallError = CodedError<InstallErrorCode>

/// What stopped an install. Every kind is `stalled` unless the thrower says `transient` (the server was down).
public enum InstallErrorCode: String, ErrorCode {
    /// A `rackswarm.*` kernel argument is missing or malformed.
    case missingArgument = "missing kernel argument"
    /// The report URL did not answer in time (GET instructions, or the final `rebooting` report).
    case serverUnreachable = "server unreachable"
    /// The server answered, but not with what the install needs (404, bad JSON, another node's install).
    case badInstructions = "bad instructions"
    /// The .torrent could not be fetched or parsed.
    case torrent = "torrent unavailable"
    /// The download or the disk failed.
    case download = "download failed"
    /// The whole file's SHA-256 is not the one the kernel arguments name.
    case sha256Mismatch = "sha256 mismatch"
    /// A post-install action exited non-zero.
    case postAction = "post action failed"
    /// The target block device is smaller than the image: nothing was written.
    case diskTooSmall = "disk too small"

    /// A human must act: the same install would fail the same way.
    public var intent: ErrorIntent { .stalled }

    /// The detail alone: one line for the operator, also what the `failed` report's `error` says.
    public static func describe(_ code: Self, detail: String) -> String { detail }
}
