#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The rule for every path that comes from a repo (or is served from an HTTP root): it resolves inside the root,
/// checked on the resolved path, so neither `..`, an absolute path nor a symlink anywhere along the way can leave
/// it; it names a regular file (never a device, a FIFO or `/proc`); and reading it is bounded.
public enum ConfinedPath {
    /// Why a path was refused; `message` says it without quoting the file's content.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong with the path, ready to follow `file:line:col: error: `.
        public var message: String
        /// True when the path does not exist (a missing image may be legitimate until it is committed).
        public var isMissing: Bool

        public init(_ message: String, isMissing: Bool = false) {
            self.message = message
            self.isMissing = isMissing
        }

        public var description: String { message }
    }

    /// Refuses a path as written when it is absolute or has a `..` component (before any file is looked at).
    public static func checkWritten(_ written: String) throws(Refusal) {
        guard !written.isEmpty else { throw Refusal("the path is empty") }
        guard !written.hasPrefix("/") else {
            throw Refusal("'\(clip(written))' is an absolute path; paths from the repo are relative to it")
        }
        guard !written.split(separator: "/", omittingEmptySubsequences: true).contains("..") else {
            throw Refusal("'\(clip(written))' has a '..' component; paths from the repo must stay inside it")
        }
        guard !written.utf8.contains(0) else { throw Refusal("the path has a NUL byte") }
    }

    /// Resolves `written` (relative to `base`, a directory at or below `root`) to a canonical path inside
    /// `root` naming a regular file; symlinks are followed and the result must still lie inside `root`.
    public static func resolve(_ written: String, from base: String, inside root: String) throws(Refusal) -> String {
        try checkWritten(written)
        return try resolveJoined(base + "/" + written, shown: written, inside: root)
    }

    /// Resolves an already joined `path` that must end up inside `root` as a regular file (what the HTTP server
    /// does with a request path it has joined to its root).
    public static func resolveJoined(_ path: String, shown: String, inside root: String) throws(Refusal) -> String {
        guard let realRoot = realPath(root) else { throw Refusal("the root '\(clip(root))' does not exist") }
        guard let resolved = realPath(path) else {
            throw Refusal("'\(clip(shown))' does not exist", isMissing: true)
        }
        let prefix = realRoot.hasSuffix("/") ? realRoot : realRoot + "/"
        guard resolved.hasPrefix(prefix) else {
            throw Refusal("'\(clip(shown))' resolves outside the repo (through a symlink); it must stay inside it")
        }
        var info = stat()
        guard stat(resolved, &info) == 0 else { throw Refusal("'\(clip(shown))' cannot be examined") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Refusal("'\(clip(shown))' is not a regular file")
        }
        return resolved
    }

    /// Reads at most `limit` bytes of a regular file (re-checked on the open descriptor, so it cannot have been
    /// swapped for a device meanwhile); a longer file is refused rather than cut.
    public static func contents(_ path: String, shown: String, limit: Int) throws(Refusal) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Refusal("'\(clip(shown))' cannot be opened") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw Refusal("'\(clip(shown))' is not a regular file")
        }
        guard info.st_size <= limit else {
            throw Refusal("'\(clip(shown))' is \(info.st_size) bytes, over the limit of \(limit) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let start = buffer.baseAddress else { return 0 }
                return read(fd, start + count, buffer.count - count)
            }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw Refusal("'\(clip(shown))' cannot be read") }
            if got == 0 { break }
            count += got
        }
        guard count <= Int(info.st_size) else { throw Refusal("'\(clip(shown))' grew while it was read") }
        return Array(bytes[..<count])
    }

    /// The canonical absolute path with every symlink resolved, or nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func clip(_ text: String) -> String {
        text.count <= 120 ? text : String(text.prefix(120)) + "…"
    }
}
