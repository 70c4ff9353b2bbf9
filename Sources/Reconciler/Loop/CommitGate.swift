import Drivers
import Foundation

/// Decides whether a checkout's commit may drive actions under the site's `verify` policy.
///
/// The policy that judges a commit is the one of the last commit the reconciler applied, when that commit had one;
/// otherwise the commit's own (trust on first use). So an unsigned commit cannot remove `verify`, or swap in its
/// own key, to let itself through: only a commit signed by a key trusted before can change the trusted keys.
public struct CommitGate: Sendable {
    /// Reads the site of an earlier commit (the last applied one); nil when it cannot be read. The second argument
    /// is the repo-relative file the current `Site` document came from, where the earlier one most likely is too
    /// (`SiteSource.site(atCommit:siteFile:)` then reads that file alone, not the whole site).
    public var siteAt: @Sendable (_ commit: String, _ siteFile: String) async -> Site?

    public init(siteAt: @escaping @Sendable (_ commit: String, _ siteFile: String) async -> Site? = { _, _ in nil }) {
        self.siteAt = siteAt
    }

    /// Nil when the commit may drive actions; otherwise why not, for the plan, the status and the console
    /// (`commit 1a2b3c4 is not signed by a trusted key (the commit is not signed)`).
    public func refusal(_ checkout: SiteSource.Checkout, site: Site, lastApplied: String?) async -> String? {
        var policy = site.verify
        if let lastApplied, lastApplied != checkout.commit,
            let earlier = await siteAt(lastApplied, site.location.file)?.verify
        {
            policy = earlier
        }
        guard let policy else { return nil }
        guard let commit = checkout.commit else {
            return "the site is a plain directory, not a git commit, and verify needs a signed commit"
        }
        let short = String(commit.prefix(7))
        var keys: [String] = []
        for key in policy.keys {
            switch key {
            case .inline(let text):
                keys.append(text)
            case .file(let path):
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    return "commit \(short) cannot be checked: the trusted key file \(path) cannot be read"
                }
                keys.append(text)
            }
        }
        let format: CommitVerifier.Format = policy.provider == .ssh ? .ssh : .gpg
        let verdict = await CommitVerifier(format: format, keys: keys).verify(checkout.signature)
        return verdict.trusted ? nil : "commit \(short) is not signed by a trusted key (\(verdict.detail))"
    }
}
