import Drivers
import DriversTesting
import Foundation
import LabSupport
import Reconciler
import ReconcilerTesting
import Testing

/// Signed-commit gating with real signatures: `git commit -S` with an SSH key and with a GPG key, checked by
/// `ssh-keygen -Y verify` and `gpgv` on what libgit2 extracts; an unsigned, an untrusted and a tampered commit are
/// planned and shown, and nothing runs.
struct SignedCommitTests {
    /// A site repo (the example data center) with its own keys and a clone cache.
    final class SignedRepo: Sendable {
        let temp: TemporaryDirectory
        let repo: String
        let gnupg: String

        init() async throws {
            temp = try TemporaryDirectory("rackswarm-signed")
            repo = try temp.subdirectory("repo")
            gnupg = try temp.subdirectory("gnupg")
            chmod(gnupg, 0o700)
            _ = try await runProcess("/bin/cp", ["-r", Repo.examples.appendingPathComponent("datacenter").path + "/.", repo])
            try await git(in: repo, ["init", "-q", "-b", "main"])
        }

        /// Makes an SSH key pair; returns the public key line.
        func sshKey(_ name: String) async throws -> String {
            let key = temp.path + "/" + name
            let made = try await runProcess("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key])
            #expect(made.status == 0, "\(made.stderr)")
            return try String(contentsOfFile: key + ".pub", encoding: .utf8).trimmingCharacters(in: .newlines)
        }

        /// Makes a GPG key in this repo's own GNUPGHOME; returns its armoured public key.
        func gpgKey(_ email: String) async throws -> String {
            let environment = ["GNUPGHOME": gnupg]
            let made = try await runProcess("/usr/bin/gpg", ["--batch", "--passphrase", "", "--quick-gen-key", email,
                                                       "ed25519", "sign", "never"], environment: environment)
            #expect(made.status == 0, "\(made.stderr)")
            return try await runProcess("/usr/bin/gpg", ["--armor", "--export", email], environment: environment).stdout
        }

        /// Appends `text` to the site file and commits it, signed as given.
        @discardableResult
        func commit(_ text: String, ssh key: String? = nil, gpg email: String? = nil) async throws -> String {
            let site = repo + "/site.yaml"
            let before = try String(contentsOfFile: site, encoding: .utf8)
            try (before + text).write(toFile: site, atomically: true, encoding: .utf8)
            try await git(in: repo, ["add", "-A"])
            var arguments = ["-C", repo]
            if let key { arguments += ["-c", "gpg.format=ssh", "-c", "user.signingkey=\(temp.path)/\(key)"] }
            if let email { arguments += ["-c", "user.signingkey=\(email)"] }
            arguments += ["commit", "-q", "-m", "change"] + (key != nil || email != nil ? ["-S"] : [])
            let result = try await runProcess("/usr/bin/git", arguments, environment: [
                "GIT_AUTHOR_NAME": "Ops", "GIT_AUTHOR_EMAIL": "ops@example.net", "GIT_COMMITTER_NAME": "Ops",
                "GIT_COMMITTER_EMAIL": "ops@example.net", "GIT_CONFIG_GLOBAL": "/dev/null", "GNUPGHOME": gnupg,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            return try await git(in: repo, ["rev-parse", "HEAD"])
        }

        /// The `verify` block naming `keys` inline.
        static func verify(_ provider: String, _ keys: [String]) -> String {
            let items = keys.map { key -> String in
                if provider == "ssh" { return "      - \"\(key)\"\n" }
                return "      - |\n" + key.split(separator: "\n").map { "        \($0)\n" }.joined()
            }
            return "  verify:\n    provider: \(provider)\n    keys:\n" + items.joined()
        }

        var source: SiteSource { SiteSource(repo: repo, ref: "main", cacheRoot: temp.path + "/cache") }

        /// Checks out HEAD through libgit2 and loads its site.
        func checkout() throws -> (SiteSource.Checkout, DesiredState) {
            let checkout = try source.checkout()
            let loaded = SiteLoader.load(path: checkout.directory, relativeTo: checkout.root)
            return (checkout, try #require(loaded.state, "\(loaded.renderDiagnostics())"))
        }
    }

    /// Runs a pass of the fake world on the repo's HEAD; returns the outcome and whether any BMC was called.
    static func pass(_ repo: SignedRepo, lastApplied: String? = nil) async throws
        -> (ConvergencePass.Outcome, bmcCalled: Bool, output: String)
    {
        let (checkout, loaded) = try repo.checkout()
        let world = try ConvergencePassTests.World { $0.site.verify = loaded.site.verify }
        if let lastApplied { await world.store.setLastAppliedCommit(lastApplied, at: world.now) }
        var pass = world.pass()
        let source = repo.source
        pass = ConvergencePass(seams: {
            var seams = pass.seams
            seams.gate = CommitGate(siteAt: { source.site(atCommit: $0, siteFile: $1) })
            return seams
        }(), policy: pass.policy, say: pass.say, logger: pass.logger)
        let outcome = try await pass.run(world.desired, checkout: checkout)
        var called = false
        for driver in world.powers.values where await !driver.calls.isEmpty { called = true }
        return (outcome, called, world.output.text)
    }

    @Test func anSSHSignedCommitDrivesActionsAndAnUnsignedOneIsOnlyShown() async throws {
        let repo = try await SignedRepo()
        let alice = try await repo.sshKey("alice")
        let signed = try await repo.commit(SignedRepo.verify("ssh", [alice]), ssh: "alice")
        let (trusted, called, _) = try await Self.pass(repo)
        #expect(trusted.blocked == nil)
        #expect(called, "a trusted commit drives the BMCs")

        let unsigned = try await repo.commit("# reimage everything\n")
        let (refused, touched, output) = try await Self.pass(repo, lastApplied: signed)
        let why = "commit \(unsigned.prefix(7)) is not signed by a trusted key"
        #expect(refused.blocked?.hasPrefix(why) == true, "\(refused.blocked ?? "nil")")
        #expect(!touched, "an unsigned commit touched a BMC")
        #expect(refused.report.actionsDone == 0 && !refused.failed, "a refused commit is no failure")
        #expect(!refused.plan.actions.isEmpty, "the refused commit is still planned and shown")
        #expect(output.contains("Nothing will run: \(why)"))
    }

    @Test func aCommitSignedByAnUntrustedSSHKeyIsRefused() async throws {
        let repo = try await SignedRepo()
        let alice = try await repo.sshKey("alice")
        _ = try await repo.sshKey("mallory")
        try await repo.commit(SignedRepo.verify("ssh", [alice]), ssh: "mallory")
        let (outcome, called, _) = try await Self.pass(repo)
        #expect(outcome.blocked?.contains("is not signed by a trusted key") == true)
        #expect(!called)
    }

    @Test func aGPGSignedCommitIsTrustedAndOneByAnotherGPGKeyIsNot() async throws {
        let repo = try await SignedRepo()
        let alice = try await repo.gpgKey("alice@example.net")
        _ = try await repo.gpgKey("mallory@example.net")
        try await repo.commit(SignedRepo.verify("gpg", [alice]), gpg: "alice@example.net")
        let (trusted, called, _) = try await Self.pass(repo)
        #expect(trusted.blocked == nil, "\(trusted.blocked ?? "")")
        #expect(called)

        try await repo.commit("# by mallory\n", gpg: "mallory@example.net")
        let (refused, touched, _) = try await Self.pass(repo)
        #expect(refused.blocked?.contains("is not signed by a trusted key") == true, "\(refused.blocked ?? "nil")")
        #expect(!touched)
    }

    @Test func aTamperedSignedCommitIsRefused() async throws {
        let repo = try await SignedRepo()
        let alice = try await repo.sshKey("alice")
        try await repo.commit(SignedRepo.verify("ssh", [alice]), ssh: "alice")
        // Same tree, same signature header, another message: the signature no longer covers the commit.
        let object = try await git(in: repo.repo, ["cat-file", "commit", "HEAD"]) + "\n"
        let forged = object.replacingOccurrences(of: "\nchange\n", with: "\nchange (harmless, honest)\n")
        #expect(forged != object)
        let file = repo.temp.path + "/forged"
        try forged.write(toFile: file, atomically: true, encoding: .utf8)
        let id = try await git(in: repo.repo, ["hash-object", "-t", "commit", "-w", file])
        try await git(in: repo.repo, ["update-ref", "refs/heads/main", id])
        let (checkout, _) = try repo.checkout()
        #expect(checkout.commit == id && checkout.signature != nil)
        let (outcome, called, _) = try await Self.pass(repo)
        #expect(outcome.blocked?.hasPrefix("commit \(id.prefix(7)) is not signed by a trusted key") == true,
                "\(outcome.blocked ?? "nil")")
        #expect(!called)
    }

    @Test func anUnsignedCommitCannotRemoveVerifyOnceASignedOneWasApplied() async throws {
        let repo = try await SignedRepo()
        let alice = try await repo.sshKey("alice")
        let signed = try await repo.commit(SignedRepo.verify("ssh", [alice]), ssh: "alice")
        // Drop verify again, unsigned: the last applied commit's policy still judges it.
        let site = repo.repo + "/site.yaml"
        let text = try String(contentsOfFile: site, encoding: .utf8)
        try text.replacingOccurrences(of: SignedRepo.verify("ssh", [alice]), with: "")
            .write(toFile: site, atomically: true, encoding: .utf8)
        try await repo.commit("")
        let (checkout, loaded) = try repo.checkout()
        #expect(loaded.site.verify == nil)
        let source = repo.source
        let gate = CommitGate(siteAt: { source.site(atCommit: $0, siteFile: $1) })
        let why = await gate.refusal(checkout, site: loaded.site, lastApplied: signed)
        #expect(why?.contains("is not signed by a trusted key") == true, "\(why ?? "nil")")
        // With no applied commit yet, the commit's own (absent) policy applies.
        #expect(await gate.refusal(checkout, site: loaded.site, lastApplied: nil) == nil)
    }

    /// The gate reads only the file the current Site document came from; an unsigned commit that moves the Site
    /// document elsewhere (and drops verify) makes it read the applied commit's whole site, which still refuses it.
    @Test func theAppliedPolicyIsReadFromOneFileAndFromTheWholeSiteWhenTheSiteMoved() async throws {
        let repo = try await SignedRepo()
        let alice = try await repo.sshKey("alice")
        let signed = try await repo.commit(SignedRepo.verify("ssh", [alice]), ssh: "alice")
        let source = repo.source
        _ = try repo.checkout()  // fetches the commits into the cache
        #expect(source.site(atCommit: signed, siteFile: "site.yaml")?.verify?.provider == .ssh)
        #expect(source.site(atCommit: signed, siteFile: "racks/r1.yaml")?.verify?.provider == .ssh,
                "a file with no Site document falls back to the whole site")
        #expect(source.site(atCommit: signed, siteFile: "no/such.yaml")?.verify?.provider == .ssh)

        let text = try String(contentsOfFile: repo.repo + "/site.yaml", encoding: .utf8)
            .replacingOccurrences(of: SignedRepo.verify("ssh", [alice]), with: "")
        try FileManager.default.removeItem(atPath: repo.repo + "/site.yaml")
        try text.write(toFile: repo.repo + "/moved-site.yaml", atomically: true, encoding: .utf8)
        _ = try await git(in: repo.repo, ["add", "-A"])
        _ = try await git(in: repo.repo, ["commit", "-q", "-m", "move the site, unsigned"])
        let (checkout, loaded) = try repo.checkout()
        #expect(loaded.site.verify == nil && loaded.site.location.file == "moved-site.yaml")
        let gate = CommitGate(siteAt: { source.site(atCommit: $0, siteFile: $1) })
        let why = await gate.refusal(checkout, site: loaded.site, lastApplied: signed)
        #expect(why?.contains("is not signed by a trusted key") == true, "\(why ?? "nil")")
    }
}
