import CBuildInfo

/// What this build is: the release version and the git commit it was built from.
///
/// Package.swift puts both in at build time (the commit from `RACKSWARM_COMMIT`, else the checkout's git HEAD, else
/// `unknown`), so a plain `swift build` works from a checkout or from a tarball.
public enum BuildInfo {
    /// The release version, e.g. `0.1.0`.
    public static var version: String { String(cString: rackswarm_build_version()) }

    /// The full commit hash, or `unknown`.
    public static var commit: String { String(cString: rackswarm_build_commit()) }

    /// What `--version` prints: `0.1.0 (commit 0123456789ab)`.
    public static var versionLine: String {
        let shown = commit == "unknown" ? commit : String(commit.prefix(12))
        return "\(version) (commit \(shown))"
    }
}
