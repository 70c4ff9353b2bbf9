import Foundation
import LabSupport
import Reconciler
import Testing

/// `reconcile --dry-run` as an operator runs it: exit 2 with changes, 1 on an invalid site, 0 in sync.
struct DryRunCommandTests {
    @Test func changesPendingExitTwoWithSummary() async throws {
        let site = Repo.examples.appendingPathComponent("datacenter").path
        let (status, stdout, _) = try await runProcess(ValidateCommandTests.binary, ["plan", "--repo", site])
        #expect(status == 2)
        #expect(stdout.contains("Plan: 8 to provision, 0 to reimage (destructive), 0 service changes, 0 to decommission."))
        #expect(stdout.contains("rack r2\n  wave 1\n"))
    }

    @Test func inSyncExitsZero() async throws {
        let site = Repo.examples.appendingPathComponent("datacenter").path
        let (_, json, _) = try await runProcess(ValidateCommandTests.binary, ["plan", "--repo", site, "--output", "json"])
        #expect(json.contains("\"kind\" : \"installImage\""))
        // Observed: every node ready with the desired image and services.
        let temporary = try TemporaryDirectory("rackswarm-observed")
        let observed = URL(fileURLWithPath: temporary.path + "/observed.json")
        var nodes: [String: Any] = [:]
        for (name, services) in [("r1n1", ["web"]), ("r1n2", ["web"]), ("r1n3", ["vod"]), ("r1n4", ["vod"]),
                                 ("r2n1", ["vod"]), ("r2n2", ["vod"]), ("r2n3", []), ("r2n4", [])] {
            nodes[name] = ["phase": "ready", "image": "debian-12@12.15", "services": services, "drifted": []]
        }
        try JSONSerialization.data(withJSONObject: ["nodes": nodes]).write(to: observed)
        let (status, stdout, _) = try await runProcess(
            ValidateCommandTests.binary, ["plan", "--repo", site, "--observed", observed.path])
        #expect(status == 0)
        #expect(stdout.contains("No changes."))
    }

    @Test func invalidSiteExitsOneWithDiagnostics() async throws {
        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("bad/semantic/dangling-references"))
        let (status, stdout, stderr) = try await runProcess(ValidateCommandTests.binary, ["plan", "--repo", site.directory.path])
        #expect(status == 1)
        #expect(stdout.isEmpty)
        #expect(stderr.contains("bad.yaml:6:9: error: node 'n2' names rack 'r9', which is not defined"))
    }

    /// `status` reads the store while the site loads: a site that fails to load still answers with its diagnostics
    /// and exit 1, beside a state file that is not a database.
    @Test func statusOnAnInvalidSiteReportsTheSite() async throws {
        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("bad/semantic/dangling-references"))
        let directory = try TemporaryDirectory("rackswarm-store")
        let state = directory.path + "/state.db"
        try Data("not a database, longer than a header would be".utf8).write(to: URL(fileURLWithPath: state))
        let (status, stdout, stderr) = try await runProcess(
            ValidateCommandTests.binary, ["status", "--repo", site.directory.path, "--state", state])
        #expect(status == 1)
        #expect(stdout.isEmpty)
        #expect(stderr.contains("bad.yaml:6:9: error: node 'n2' names rack 'r9', which is not defined"), "\(stderr)")
    }
}

/// `reconcile --dry-run` against real git repos: the plan names the commit it came from.
struct DryRunGitTests {
    final class SiteRepo {
        private let temporary: TemporaryDirectory
        var root: URL { URL(fileURLWithPath: temporary.path) }
        var repo: String { root.appendingPathComponent("repo").path }
        var cache: String { root.appendingPathComponent("cache").path }
        var state: String { root.appendingPathComponent("state.db").path }

        /// Records every node of the committed site as ready on its image with its services, as a converged site
        /// leaves the store; `errors` are recorded as those nodes' last errors.
        func recordEveryNodeReady(errors: [String: String] = [:]) async throws -> SQLiteStateStore {
            let desired = try #require(SiteLoader.load(path: repo + "/site").state)
            let store = try SQLiteStateStore(path: state)
            for node in desired.nodes {
                let status = NodeStatus(phase: .ready, image: "debian-12@12.15", services: node.serviceNames,
                                        rack: node.rack.value)
                try await store.record(status, lastError: errors[node.name], for: node.name, at: Date())
            }
            return store
        }

        init() async throws {
            temporary = try TemporaryDirectory("rackswarm-siterepo")
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Repo.examples.appendingPathComponent("datacenter").path,
                                             toPath: repo + "/site")
            try await git("init", "-q", "-b", "main")
            try await git("add", "-A")
            try await git("commit", "-q", "-m", "Add dc1")
        }

        @discardableResult
        func git(_ arguments: String...) async throws -> String {
            try await LabSupport.git(in: repo, author: "Ops", arguments)
        }

        func dryRun(_ extra: [String] = []) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await runProcess(ValidateCommandTests.binary, ["plan", "--repo", "file://" + repo, "--path", "site",
                                                        "--cache", cache, "--state", state] + extra)
        }
    }

    @Test func planNamesTheCommitAndFollowsNewCommits() async throws {
        let site = try await SiteRepo()
        let first = try await site.git("rev-parse", "HEAD")
        let (status, stdout, stderr) = try await site.dryRun()
        #expect(status == 2, "\(stderr)")
        #expect(stdout.hasPrefix("rackswarm plan for site 'dc1' at commit \(first)\n"))

        // An uncommitted edit is not planned from; a committed one is.
        let rack = site.repo + "/site/racks/r2.yaml"
        let text = try String(contentsOfFile: rack, encoding: .utf8)
        try text.replacingOccurrences(of: "services: [vod]", with: "services: [vod, web]")
            .write(toFile: rack, atomically: true, encoding: .utf8)
        await #expect(try site.dryRun().stdout.contains("at commit \(first)"))
        try await site.git("commit", "-q", "-am", "web on r2n1 and r2n2")
        let second = try await site.git("rev-parse", "HEAD")
        let (_, json, _) = try await site.dryRun(["--output", "json"])
        #expect(json.contains("\"commit\" : \"\(second)\""))
        #expect(json.contains("install web: 1. httpd-2.2.9-4.Gxdl.i386.rpm"))
    }

    @Test func refsAndErrors() async throws {
        let site = try await SiteRepo()
        let tagged = try await site.git("rev-parse", "HEAD")
        try await site.git("tag", "v1")
        try await site.git("rm", "-q", "site/services/web.yaml")
        try await site.git("commit", "-q", "-m", "drop web (breaks references)")
        // main is now invalid: diagnostics, exit 1, no plan.
        let broken = try await site.dryRun()
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("names service 'web', which is not defined"))
        // The tag still plans.
        let (status, stdout, _) = try await site.dryRun(["--ref", "v1"])
        #expect(status == 2 && stdout.contains("at commit \(tagged)"))
        let unknown = try await site.dryRun(["--ref", "v9"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknownRef"))
    }
}

extension DryRunGitTests {
    /// The dry run reads the observed state from the state database.
    @Test func observedStateComesFromTheStore() async throws {
        let site = try await SiteRepo()
        let store = try await site.recordEveryNodeReady()
        let inSync = try await site.dryRun()
        #expect(inSync.status == 0, "\(inSync.stdout)\(inSync.stderr)")
        #expect(inSync.stdout.contains("No changes."))
        try await store.record(NodeStatus(phase: .ready, image: "debian-12@12.14", services: ["web"], rack: "r1"),
                               lastError: nil, for: "r1n1", at: Date())
        let reimage = try await site.dryRun()
        #expect(reimage.status == 2)
        #expect(reimage.stdout.contains("Plan: 0 to provision, 1 to reimage (destructive), 0 service changes, 0 to decommission."))
    }
}

extension DryRunGitTests {
    /// `reconcile status` shows what the store holds, by rack, in text and JSON.
    @Test func statusShowsNodesByRack() async throws {
        let site = try await SiteRepo()
        let store = try SQLiteStateStore(path: site.state)
        try await store.record(NodeStatus(phase: .ready, image: "debian-12@12.15", services: ["vod"], drifted: ["vod"],
                                          rack: "r1"), lastError: nil, for: "r1n3", at: Date())
        try await store.record(NodeStatus(phase: .failed, rack: "r2"), lastError: "BMC refused the password",
                               for: "r2n1", at: Date())
        let arguments = ["status", "--repo", "file://" + site.repo, "--path", "site", "--cache", site.cache,
                         "--state", site.state]
        let (status, text, _) = try await runProcess(ValidateCommandTests.binary, arguments)
        #expect(status == 0)
        #expect(text.contains("  r1n3     ready           debian-12@12.15            vod(drift)\n"))
        #expect(text.contains("  r2n1     failed          - -> debian-12@12.15       -                    BMC refused the password\n"))
        #expect(text.contains("1 failed, 1 ready, 6 unknown"))
        let (_, json, _) = try await runProcess(ValidateCommandTests.binary, arguments + ["--output", "json"])
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let nodes = try #require(decoded?["nodes"] as? [[String: Any]])
        #expect(nodes.count == 8)
        #expect(nodes.first { $0["node"] as? String == "r2n1" }?["lastError"] as? String == "BMC refused the password")
    }
}
