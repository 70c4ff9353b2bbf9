/// Parses the sizes and durations operators type on the command line.
public enum CommandLineValues {
    /// `4194304`, `4M`, `4MiB`, `512K`, `1G`.
    public static func size(_ text: String) -> Int? {
        let lowered = text.lowercased()
        let digits = lowered.prefix { $0.isNumber }
        guard let number = Int(digits) else { return nil }
        let shift: Int
        switch lowered.dropFirst(digits.count) {
        case "", "b": shift = 0
        case "k", "kb", "kib": shift = 10
        case "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        default: return nil
        }
        // A size that does not fit is refused, not wrapped.
        let (bytes, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : bytes
    }

    /// `90`, `90s`, `5m`, `1h` in seconds.
    public static func duration(_ text: String) -> Int? {
        let digits = text.prefix { $0.isNumber }
        guard let number = Int(digits) else { return nil }
        let unit: Int
        switch text.dropFirst(digits.count) {
        case "", "s": unit = 1
        case "m": unit = 60
        case "h": unit = 3600
        default: return nil
        }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: unit)
        return overflow ? nil : seconds
    }

    /// `HOST:PORT` (IPv6 as `[::1]:PORT`).
    public static func hostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon].filter { $0 != "[" && $0 != "]" })
        return host.isEmpty ? nil : (host, port)
    }
}

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
