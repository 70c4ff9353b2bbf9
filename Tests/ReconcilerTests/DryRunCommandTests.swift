import Foundation
import Testing

/// `reconcile --dry-run` as an operator runs it: exit 2 with changes, 1 on an invalid site, 0 in sync.
struct DryRunCommandTests {
    @Test func changesPendingExitTwoWithSummary() throws {
        let site = Repo.examples.appendingPathComponent("datacenter").path
        let (status, stdout, _) = try runProcess(ValidateCommandTests.binary, ["--dry-run", "--repo", site])
        #expect(status == 2)
        #expect(stdout.contains("Plan: 8 to provision, 0 to reimage (destructive), 0 service changes, 0 to decommission."))
        #expect(stdout.contains("rack r2\n  wave 1\n"))
    }

    @Test func inSyncExitsZero() throws {
        let site = Repo.examples.appendingPathComponent("datacenter").path
        let (_, json, _) = try runProcess(ValidateCommandTests.binary, ["--dry-run", "--repo", site, "--output", "json"])
        #expect(json.contains("\"kind\" : \"installImage\""))
        // Observed: every node ready with the desired image and services.
        let observed = FileManager.default.temporaryDirectory.appendingPathComponent("observed-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: observed) }
        var nodes: [String: Any] = [:]
        for (name, services) in [("r1n1", ["web"]), ("r1n2", ["web"]), ("r1n3", ["vod"]), ("r1n4", ["vod"]),
                                 ("r2n1", ["vod"]), ("r2n2", ["vod"]), ("r2n3", []), ("r2n4", [])] {
            nodes[name] = ["phase": "ready", "image": "centos-7@7.9.2009", "services": services, "drifted": []]
        }
        try JSONSerialization.data(withJSONObject: ["nodes": nodes]).write(to: observed)
        let (status, stdout, _) = try runProcess(
            ValidateCommandTests.binary, ["--dry-run", "--repo", site, "--observed", observed.path])
        #expect(status == 0)
        #expect(stdout.contains("No changes."))
    }

    @Test func invalidSiteExitsOneWithDiagnostics() throws {
        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("bad/semantic/dangling-references"))
        let (status, stdout, stderr) = try runProcess(ValidateCommandTests.binary, ["--dry-run", "--repo", site.directory.path])
        #expect(status == 1)
        #expect(stdout.isEmpty)
        #expect(stderr.contains("bad.yaml:6:9: error: node 'n2' names rack 'r9', which is not defined"))
    }
}
