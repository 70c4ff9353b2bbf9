import Drivers
import Foundation
import GitDriver
import MemberwiseInit

/// Where a site's YAML comes from: a git repo (cloned and fetched through libgit2) or a plain directory.
@PublicMemberwiseInit
public struct SiteSource: Sendable {
    /// A local path, or a `file://`, `https://`, `ssh://` URL.
    public var repo: String
    /// Branch, tag or commit; ignored for a plain directory.
    public var ref: String = "main"
    /// Subdirectory of the repo holding the site.
    public var path: String?
    /// Where clones are cached.
    public var cacheRoot: String = ".rackswarm/cache"
    public var credentials: GitCredentials?

    /// A checked-out site: its directory, and the commit when it came from git.
    @PublicMemberwiseInit
    public struct Checkout: Sendable {
        public var directory: String
        /// The repo's root; diagnostics name files relative to it.
        public var root: String
        public var commit: String?
        public var summary: String?
        public var author: String?
        /// The commit's signature, as libgit2 extracts it; nil when unsigned or not from git.
        public var signature: CommitSignature?
    }

    /// True when `repo` names a git repository rather than a plain directory of files.
    public var isGit: Bool {
        if repo.contains("://") { return true }
        var isDirectory: ObjCBool = false
        let dotGit = (repo as NSString).appendingPathComponent(".git")
        return FileManager.default.fileExists(atPath: dotGit, isDirectory: &isDirectory)
    }

    /// Fetches (for git) and returns where the site's files are. A git repo is always read at the committed
    /// `ref`, never from a work tree's uncommitted edits.
    public func checkout() throws(GitError) -> Checkout {
        guard isGit else {
            return Checkout(directory: join(repo, path), root: repo, commit: nil, summary: nil, author: nil)
        }
        var url = repo
        if !url.contains("://") { url = URL(fileURLWithPath: repo).standardizedFileURL.path }
        let checkout = try GitSource(url: url, cacheRoot: cacheRoot, credentials: credentials).sync(ref: ref)
        return Checkout(directory: join(checkout.directory, path), root: checkout.directory, commit: checkout.commit,
                        summary: checkout.summary,
                        author: checkout.author, signature: checkout.signature)
    }

    /// The site as an earlier commit of the repo had it (the last applied one, for `CommitGate`); nil when it is not
    /// a git repo, the commit is not in the cache, or its site does not load.
    ///
    /// With `siteFile` (the repo-relative file the current `Site` document came from), only that file of the commit
    /// is written out and loaded — at 100,000 nodes the whole tree costs seconds — and the whole tree only when the
    /// earlier commit kept its `Site` elsewhere.
    public func site(atCommit commit: String, siteFile: String? = nil) -> Site? {
        guard isGit else { return nil }
        if let siteFile, let site = site(atCommit: commit, only: siteFile) { return site }
        return self.site(atCommit: commit, only: nil)
    }

    /// Writes out `commit` (only `file` with one) into a temporary directory and reads its site there.
    private func site(atCommit commit: String, only file: String?) -> Site? {
        var url = repo
        if !url.contains("://") { url = URL(fileURLWithPath: repo).standardizedFileURL.path }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rackswarm-site-\(commit.prefix(12))-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try GitSource(url: url, cacheRoot: cacheRoot, credentials: credentials)
                .materialize(commit: commit, into: directory, paths: file.map { [$0] } ?? [])
        } catch {
            return nil
        }
        if let file { return SiteLoader.siteDocument(file: file, root: directory) }
        return SiteLoader.load(path: join(directory, path), relativeTo: directory).state?.site
    }

    private func join(_ base: String, _ sub: String?) -> String {
        guard let sub, !sub.isEmpty else { return base }
        return (base as NSString).appendingPathComponent(sub)
    }
}
