import CLibGit2
import RackswarmCore

/// A git operation failed. The `code` says what an operator should do about it.
public typealias GitError = CodedError<GitErrorCode>

/// What went wrong in a git operation.
public enum GitErrorCode: String, ErrorCode {
    /// The remote could not be reached (network, DNS, missing path). Transient: retry with backoff.
    case unreachable
    /// Branch, tag or commit not found in the remote. Stalled: fix the ref.
    case unknownRef
    /// The remote refused the credentials. Stalled: fix the token or key.
    case authentication
    /// The cached clone is damaged; it is removed and cloned again.
    case corruptCache
    /// The credentials reference could not be read. Stalled: fix the reference.
    case credentials
    case other

    public var intent: ErrorIntent {
        switch self {
        case .unknownRef, .authentication, .credentials: .stalled
        case .unreachable, .corruptCache, .other: .transient
        }
    }

    public static func describe(_ code: Self, detail: String) -> String { "git: \(code.rawValue): \(detail)" }
}

extension GitError {
    /// The last libgit2 error, classified.
    static func last(_ result: Int32, context: String) -> GitError {
        let detail = git_error_last().map { String(cString: $0.pointee.message) } ?? "error \(result)"
        let errorClass = git_error_last().map { Int32($0.pointee.klass) } ?? 0
        let code: Code
        switch result {
        case GIT_EAUTH.rawValue: code = .authentication
        case GIT_ENOTFOUND.rawValue where context.hasPrefix("resolve"): code = .unknownRef
        case GIT_ECERTIFICATE.rawValue: code = .unreachable
        default:
            let lower = detail.lowercased()
            if errorClass == Int32(GIT_ERROR_NET.rawValue) || errorClass == Int32(GIT_ERROR_SSH.rawValue)
                || errorClass == Int32(GIT_ERROR_HTTP.rawValue) {
                code = lower.contains("auth") || lower.contains("401") || lower.contains("403") ? .authentication
                    : .unreachable
            } else if lower.contains("could not find repository") || lower.contains("failed to resolve path")
                || lower.contains("no such file") {
                code = .unreachable
            } else {
                code = .other
            }
        }
        return GitError(code, "\(context): \(detail)")
    }
}
