#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Unbuffered writes to standard output, so progress shows up at once even when piped.
public enum StandardOutput {
    /// Writes `text` followed by a newline.
    public static func line(_ text: String) { write(text + "\n") }

    /// Writes `text` as is.
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let wrote = bytes.withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if wrote < 0, errno == EINTR { continue }
            guard wrote > 0 else { return }
            bytes = bytes.dropFirst(wrote)
        }
    }

    /// Whether standard output is a terminal.
    public static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
}
