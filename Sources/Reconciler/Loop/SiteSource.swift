import Drivers
import GitDriver
import Foundation

/// Where a site's YAML comes from: a git repo (cloned and fetched through libgit2) or a plain directory.
public struct SiteSource: Sendable {
    /// A local path, or a `file://`, `https://`, `ssh://` URL.
    public var repo: String
    /// Branch, tag or commit; ignored for a plain directory.
    public var ref: String
    /// Subdirectory of the repo holding the site.
    public var path: String?
    /// Where clones are cached.
    public var cacheRoot: String
    public var credentials: GitCredentials?

    public init(repo: String, ref: String = "main", path: String? = nil, cacheRoot: String = ".rackswarm/cache",
                credentials: GitCredentials? = nil) {
        self.repo = repo
        self.ref = ref
        self.path = path
        self.cacheRoot = cacheRoot
        self.credentials = credentials
    }

    /// A checked-out site: its directory, and the commit when it came from git.
    public struct Checkout: Sendable {
        public var directory: String
        /// The repo's root; diagnostics name files relative to it.
        public var root: String
        public var commit: String?
        public var summary: String?
        public var author: String?

        public init(directory: String, root: String, commit: String?, summary: String? = nil, author: String? = nil) {
            self.directory = directory
            self.root = root
            self.commit = commit
            self.summary = summary
            self.author = author
        }
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
                        author: checkout.author)
    }

    private func join(_ base: String, _ sub: String?) -> String {
        guard let sub, !sub.isEmpty else { return base }
        return (base as NSString).appendingPathComponent(sub)
    }
}
