import Foundation
import LabSupport
import Testing

/// The built `reconcile apply` on the loopback lab, with `Site.spec.verify` naming an SSH key and an unsigned commit
/// at HEAD: one pass plans, runs nothing and exits 3 (no failure) saying why; the looping reconciler's console and
/// JSON API, on `--console-listen`, say the same through the management listener.
struct UnsignedCommitLabTests {
    @Test(.timeLimit(.minutes(5)))
    func anUnsignedCommitRunsNothingAndTheConsoleSaysWhy() async throws {
        let lab = try await LoopbackLab(nodes: 1)
        defer { lab.tearDown() }
        let keygen = await runCommand("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "alice",
                                                              "-f", lab.root + "/alice"])
        try #require(keygen.status == 0, "\(keygen.output)")
        let alice = try String(contentsOfFile: lab.root + "/alice.pub", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let site = lab.siteDirectory + "/site.yaml"
        try (try String(contentsOfFile: site, encoding: .utf8)
            + "  verify:\n    provider: ssh\n    keys:\n      - \"\(alice)\"\n")
            .write(toFile: site, atomically: true, encoding: .utf8)
        try await lab.commit("lab: trust only alice's signature")
        let head = String(try await lab.git(["rev-parse", "HEAD"]).prefix(7))
        let why = "commit \(head) is not signed by a trusted key"

        // One pass: planned and shown, nothing run, exit 3.
        let once = try await lab.apply(log: "once.log", timeout: 120)
        #expect(once.status == 3, "\(once.output)")
        #expect(once.output.contains("Nothing will run: \(why)"), "\(once.output)")
        #expect(once.output.contains("r1n1"), "the plan is shown")
        #expect(!lab.bmcLog(lab.nodes[0]).contains("power"), "an unsigned commit drove the BMC")

        // A looping reconciler: the console's pages and API say why, from the pass through the management listener.
        let apply = try lab.startApply(["--every", "1h"], log: "loop.log")
        var api = ""
        for _ in 0..<300 where !api.contains(why) {
            try await Task.sleep(for: .milliseconds(200))
            api = await InstallTrustTests.request(lab.consoleBase + "/console/api/v1/site").1
        }
        #expect(api.contains(why), "API: \(api)\n\(apply.output)")
        let page = await InstallTrustTests.request(lab.consoleBase + "/console").1
        #expect(page.contains(why), "console page: \(page)")
        let plan = await InstallTrustTests.request(lab.consoleBase + "/console/plan").1
        #expect(plan.contains("Nothing will run: \(why)"), "plan page: \(plan)")
        apply.signal(SIGTERM)
        _ = await apply.wait(timeout: 60)
        #expect(!lab.bmcLog(lab.nodes[0]).contains("power"), "an unsigned commit drove the BMC")
    }
}
