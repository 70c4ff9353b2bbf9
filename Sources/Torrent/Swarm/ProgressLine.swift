import RackswarmCore

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

    /// Human-readable bytes (binary units): `Quantity.rounded(bytes:)`.
    public static func bytes(_ count: Int64) -> String { Quantity.rounded(bytes: count) }

    static func format(_ value: Double, digits: Int) -> String { Quantity.decimal(value, digits: digits) }
}
