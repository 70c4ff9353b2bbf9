import CLibGit2
import RackswarmCore
import Foundation

/// How to authenticate to a git remote. Secrets are references, read only when the remote asks.
public enum GitCredentials: Sendable, Hashable {
    /// HTTPS with a token as the password (`username` is often ignored by the server, e.g. `x-access-token`).
    case token(username: String, token: SecretReference)
    /// SSH with a private key file, optionally protected by a passphrase.
    case sshKey(username: String?, privateKey: String, passphrase: SecretReference?)
}

/// A commit checked out from the site repo: where its files are, and exactly which commit it is.
public struct GitCheckout: Sendable, Hashable {
    public var directory: String
    /// Full 40-hex SHA of the commit every plan and action refers to.
    public var commit: String
    public var ref: String
    public var summary: String
    public var author: String
    /// The commit's signature and signed bytes; nil for an unsigned commit.
    public var signature: CommitSignature?
}

/// The site repo, cloned once into a cache directory and fetched on later runs.
///
/// `--repo` may be a local path, `file://`, `https://` or `ssh://` URL. `sync(ref:)` fetches, resolves a branch,
/// tag or commit (force-pushed branches included) and checks it out detached in the cache. A damaged cache is
/// removed and cloned again.
public final class GitSource {
    public let url: String
    public let cacheDirectory: String
    public let credentials: GitCredentials?

    public init(url: String, cacheRoot: String, credentials: GitCredentials? = nil) {
        self.url = url
        self.cacheDirectory = (cacheRoot as NSString).appendingPathComponent(Self.cacheName(for: url))
        self.credentials = credentials
        GitLibrary.ensureInitialised()
    }

    /// A stable, readable folder name for a URL: its last path component plus a hash of the whole URL.
    static func cacheName(for url: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in url.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let base = url.split(separator: "/").last.map(String.init) ?? "repo"
        let clean = String(base.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }.prefix(40))
        return "\(clean)-\(String(hash, radix: 16))"
    }

    /// Fetches and checks out `ref` (branch, tag or commit SHA).
    public func sync(ref: String) throws(GitError) -> GitCheckout {
        do {
            return try syncOnce(ref: ref)
        } catch let error where error.code == .corruptCache {
            try? FileManager.default.removeItem(atPath: cacheDirectory)
            return try syncOnce(ref: ref)
        }
    }

    private func syncOnce(ref: String) throws(GitError) -> GitCheckout {
        let repository = try openOrClone()
        defer { git_repository_free(repository) }
        try fetch(repository)
        let commit = try resolve(ref, in: repository)
        defer { git_object_free(commit) }
        var options = git_checkout_options()
        git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION))
        options.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue | GIT_CHECKOUT_REMOVE_UNTRACKED.rawValue
        try check(git_checkout_tree(repository, commit, &options), "checkout \(ref)", corruptOnFailure: true)
        let oid = git_object_id(commit)
        try check(git_repository_set_head_detached(repository, oid), "checkout \(ref)", corruptOnFailure: true)
        let sha = String(cString: git_oid_tostr_s(oid))
        var summary = ""
        var author = ""
        let commitPointer = commit
        if let text = git_commit_summary(commitPointer) { summary = String(cString: text) }
        if let signature = git_commit_author(commitPointer) {
            author = String(cString: signature.pointee.name) + " <" + String(cString: signature.pointee.email) + ">"
        }
        return GitCheckout(directory: cacheDirectory, commit: sha, ref: ref, summary: summary, author: author,
                           signature: Self.signature(of: oid, in: repository))
    }

    /// The signature libgit2 finds in a commit's `gpgsig` header (OpenPGP and SSH alike), with the bytes it signs.
    static func signature(of oid: UnsafePointer<git_oid>?, in repository: OpaquePointer) -> CommitSignature? {
        guard let oid else { return nil }
        var signature = git_buf()
        var signed = git_buf()
        defer {
            git_buf_dispose(&signature)
            git_buf_dispose(&signed)
        }
        var id = oid.pointee
        guard git_commit_extract_signature(&signature, &signed, repository, &id, nil) == 0,
              let signaturePointer = signature.ptr, let signedPointer = signed.ptr
        else { return nil }
        let text = { (pointer: UnsafeMutablePointer<CChar>, size: Int) in
            String(decoding: UnsafeRawBufferPointer(start: pointer, count: size), as: UTF8.self)
        }
        return CommitSignature(signature: text(signaturePointer, signature.size),
                               signedData: text(signedPointer, signed.size))
    }

    /// Writes the files of `commit` into `directory` (outside the cache's work tree); used to read the site as an
    /// earlier commit had it. With `paths` (repo-relative, matched exactly), only those files.
    public func materialize(commit: String, into directory: String, paths: [String] = []) throws(GitError) {
        var repository: OpaquePointer?
        try check(git_repository_open(&repository, cacheDirectory), "open \(cacheDirectory)")
        defer { git_repository_free(repository) }
        var object: OpaquePointer?
        try check(git_revparse_single(&object, repository, commit), "find commit \(commit)")
        defer { git_object_free(object) }
        var options = git_checkout_options()
        git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION))
        options.checkout_strategy = GIT_CHECKOUT_FORCE.rawValue
            | (paths.isEmpty ? 0 : GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH.rawValue)
        let result = directory.withCString { path in
            options.target_directory = path
            return withStringArray(paths) { pathspec in
                options.paths = pathspec
                return git_checkout_tree(repository, object, &options)
            }
        }
        try check(result, "checkout \(commit) into \(directory)")
    }

    private func openOrClone() throws(GitError) -> OpaquePointer {
        var repository: OpaquePointer?
        if FileManager.default.fileExists(atPath: cacheDirectory) {
            if git_repository_open(&repository, cacheDirectory) == 0, let repository {
                if remoteURL(repository) == url { return repository }
                git_repository_free(repository)
            }
            // Damaged or pointing elsewhere: start over.
            try? FileManager.default.removeItem(atPath: cacheDirectory)
        }
        try? FileManager.default.createDirectory(
            atPath: (cacheDirectory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var options = git_clone_options()
        git_clone_options_init(&options, UInt32(GIT_CLONE_OPTIONS_VERSION))
        options.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE.rawValue
        let box = CredentialBox(credentials)
        installCredentialCallback(&options.fetch_opts.callbacks, box)
        let result = withExtendedLifetime(box) { git_clone(&repository, url, cacheDirectory, &options) }
        if let failure = box.failure { throw failure }
        guard result == 0, let repository else {
            try? FileManager.default.removeItem(atPath: cacheDirectory)
            throw GitError.last(result, context: "clone \(url)")
        }
        return repository
    }

    private func remoteURL(_ repository: OpaquePointer) -> String? {
        var remote: OpaquePointer?
        guard git_remote_lookup(&remote, repository, "origin") == 0, let remote else { return nil }
        defer { git_remote_free(remote) }
        return git_remote_url(remote).map { String(cString: $0) }
    }

    private func fetch(_ repository: OpaquePointer) throws(GitError) {
        var remote: OpaquePointer?
        try check(git_remote_lookup(&remote, repository, "origin"), "open remote", corruptOnFailure: true)
        defer { git_remote_free(remote) }
        var options = git_fetch_options()
        git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
        options.prune = GIT_FETCH_PRUNE
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL
        let box = CredentialBox(credentials)
        let refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        installCredentialCallback(&options.callbacks, box)
        let result = withExtendedLifetime(box) {
            withStringArray(refspecs) { array in git_remote_fetch(remote, &array, &options, "rackswarm fetch") }
        }
        if let failure = box.failure { throw failure }
        guard result == 0 else {
            let error = GitError.last(result, context: "fetch \(url)")
            if error.code == .other { throw GitError(.corruptCache, error.detail) }
            throw error
        }
    }

    /// Branch (as fetched from origin), then tag, then any revision (a commit SHA, full or abbreviated).
    private func resolve(_ ref: String, in repository: OpaquePointer) throws(GitError) -> OpaquePointer {
        var object: OpaquePointer?
        let candidates = ["refs/remotes/origin/\(ref)", "refs/tags/\(ref)", ref]
        for candidate in candidates where git_revparse_single(&object, repository, candidate) == 0 {
            guard let found = object else { continue }
            var commit: OpaquePointer?
            let peeled = git_object_peel(&commit, found, GIT_OBJECT_COMMIT)
            git_object_free(found)
            if peeled == 0, let commit { return commit }
        }
        throw GitError(.unknownRef, "no branch, tag or commit named '\(ref)' in \(url)")
    }

    private func check(_ result: Int32, _ context: String, corruptOnFailure: Bool = false) throws(GitError) {
        guard result == 0 else {
            let error = GitError.last(result, context: context)
            throw corruptOnFailure && error.code == .other ? GitError(.corruptCache, error.detail) : error
        }
    }
}

/// libgit2's global initialisation, done once per process.
enum GitLibrary {
    private static let initialised: Bool = {
        git_libgit2_init()
        return true
    }()

    static func ensureInitialised() {
        _ = initialised
    }
}

/// State the credential callback reads through libgit2's payload pointer.
private final class CredentialBox {
    let credentials: GitCredentials?
    var attempts = 0
    var failure: GitError?

    init(_ credentials: GitCredentials?) {
        self.credentials = credentials
    }
}

/// Points libgit2's credential callback at `box`; the caller keeps `box` alive for the operation.
private func installCredentialCallback(_ callbacks: inout git_remote_callbacks, _ box: CredentialBox) {
    let payload = Unmanaged.passUnretained(box).toOpaque()
    callbacks.payload = payload
    callbacks.credentials = { out, _, usernameFromURL, allowedTypes, payload in
        guard let out, let payload else { return -1 }
        let box = Unmanaged<CredentialBox>.fromOpaque(payload).takeUnretainedValue()
        box.attempts += 1
        // libgit2 asks again after a refusal; a second ask means the credentials were wrong.
        guard box.attempts == 1, let credentials = box.credentials else {
            box.failure = GitError(.authentication, box.credentials == nil
                ? "the remote asked for credentials and none were given"
                : "the remote refused the credentials")
            return GIT_EAUTH.rawValue
        }
        do {
            switch credentials {
            case .token(let username, let token):
                guard allowedTypes & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 else { break }
                return git_credential_userpass_plaintext_new(out, username, try token.resolve())
            case .sshKey(let username, let key, let passphrase):
                guard allowedTypes & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 else { break }
                let user = username ?? usernameFromURL.map { String(cString: $0) } ?? "git"
                return git_credential_ssh_key_new(out, user, nil, key, try passphrase?.resolve())
            }
        } catch {
            box.failure = GitError(.credentials, String(describing: error))
            return -1
        }
        box.failure = GitError(.authentication, "the remote wants a kind of credential that was not given")
        return GIT_EAUTH.rawValue
    }
}

private func withStringArray(_ strings: [String], _ body: (inout git_strarray) -> Int32) -> Int32 {
    var pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeMutableBufferPointer { buffer in
        var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
        return body(&array)
    }
}
