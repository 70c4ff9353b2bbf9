/// Renders progress for terminals (a bar redrawn in place) and for logs (plain lines).
public enum ProgressLine {
    /// A one-line summary: percent, rates, peers and ETA.
    public static func plain(_ progress: TorrentProgress) -> String {
        let percent =
            progress.totalBytes == 0 ? 100 : Double(progress.verifiedBytes) * 100 / Double(progress.totalBytes)
        var line = "\(format(percent, digits: 1))% \(bytes(progress.verifiedBytes))/\(bytes(progress.totalBytes))"
        line += " down \(bytes(Int64(progress.downloadRate)))/s up \(bytes(Int64(progress.uploadRate)))/s"
        line += " peers \(progress.peers)"
        if !progress.isComplete, progress.downloadRate > 0 {
            let seconds = Int(Double(progress.totalBytes - progress.verifiedBytes) / progress.downloadRate)
            line += " eta \(seconds / 60)m\(seconds % 60)s"
        }
        if progress.hashFailures > 0 { line += " hash-failures \(progress.hashFailures)" }
        return line
    }

    /// A bar of `width` cells followed by the plain summary, for a TTY.
    public static func bar(_ progress: TorrentProgress, width: Int = 30) -> String {
        let fraction = progress.totalBytes == 0 ? 1 : Double(progress.verifiedBytes) / Double(progress.totalBytes)
        let filled = min(width, Int(fraction * Double(width)))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + plain(progress)
    }

    /// Human-readable bytes (binary units).
    public static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\(format(value, digits: 1)) \(units[unit])"
    }

    static func format(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = abs(scaled % Int(scale))
        let fractionText = String(fraction)
        return "\(whole).\(String(repeating: "0", count: max(0, digits - fractionText.count)))\(fractionText)"
    }
}

/// Parses the addresses operators type on the command line (sizes and durations: RackswarmCore's `Quantity`).
public enum CommandLineValues {
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
public enum Console {
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
