import ArgumentParser
import CommandLineSupport
import Drivers
import Reconciler

/// Flags shared by every command that reads the site from its repo.
struct SourceOptions: ParsableArguments {
    @Option(help: "Site repo: a local path, or a file://, https:// or ssh:// git URL.")
    var repo: String = Settings.value("repo", ".")

    @Option(help: "Branch, tag or commit to read (git repos only).")
    var ref: String = Settings.value("ref", "main")

    @Option(help: "Subdirectory of the repo holding the site.")
    var path: String?

    @Option(help: "Where git clones are cached.")
    var cache: String = Settings.value("cache", ".rackswarm/cache")

    @Option(help: "HTTPS token for the git remote, as env:NAME or file:PATH.")
    var gitToken: String?

    @Option(help: "User name sent with --git-token.")
    var gitUser: String = Settings.value("git-user", "x-access-token")

    @Option(help: "SSH private key file for the git remote.")
    var sshKey: String?

    func validate() throws {
        if let gitToken = gitToken ?? Settings.value("git-token"), SecretReference(parsing: gitToken) == nil {
            throw ValidationError("--git-token takes env:NAME or file:PATH, never the token itself")
        }
    }

    var source: SiteSource {
        var credentials: GitCredentials?
        if let gitToken = gitToken ?? Settings.value("git-token"), let reference = SecretReference(parsing: gitToken) {
            credentials = .token(username: gitUser, token: reference)
        } else if let sshKey = sshKey ?? Settings.value("ssh-key") {
            credentials = .sshKey(username: nil, privateKey: sshKey, passphrase: nil)
        }
        return SiteSource(repo: repo, ref: ref, path: path ?? Settings.value("path"), cacheRoot: cache,
                          credentials: credentials)
    }
}

extension SourceOptions {
    /// Fetches the repo and loads the site. On a git error or an invalid site it prints what is wrong (with
    /// `refusal`, what was therefore not done) and exits 1.
    func loadSite(refusal: String) throws -> (checkout: SiteSource.Checkout, desired: DesiredState) {
        let checkout: SiteSource.Checkout
        do {
            checkout = try source.checkout()
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode.failure
        }
        let result = SiteLoader.load(path: checkout.directory, relativeTo: checkout.root)
        if !result.diagnostics.isEmpty {
            Terminal.standardError.write(result.renderDiagnostics(colour: Terminal.standardError.isTerminal))
        }
        guard let desired = result.state else {
            Terminal.standardError.write("error: the site has errors; \(refusal).\n")
            throw ExitCode.failure
        }
        return (checkout, desired)
    }
}
