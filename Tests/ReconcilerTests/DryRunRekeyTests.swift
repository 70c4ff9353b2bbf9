import Foundation
import LabSupport
import Reconciler
import Testing

/// `reconcile plan` during a site key rotation: it asks no agent, so it shows the rekeys the last pass found due
/// but did not make (the node's recorded error says so), and only while `agent.previousKeyFile` is set.
extension DryRunGitTests {
    @Test func theDryRunShowsARekeyTheLastPassLeftUndone() async throws {
        let site = try await SiteRepo()
        _ = try await site.recordEveryNodeReady(errors: ["r1n1": ServiceReconciler.holdsPreviousKey])
        // No rotation configured: the recorded error alone plans nothing.
        let before = try await site.dryRun()
        #expect(before.status == 0 && before.stdout.contains("No changes."), "\(before.stdout)\(before.stderr)")

        let file = site.repo + "/site/site.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "    keyFile: /etc/rackswarm/site.key\n",
                                      with: "    keyFile: /etc/rackswarm/site.key\n"
                                          + "    previousKeyFile: /etc/rackswarm/site.key.old\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        try await site.git("commit", "-q", "-am", "Rotate the site key")
        let during = try await site.dryRun()
        #expect(during.status == 2, "\(during.stdout)\(during.stderr)")
        #expect(during.stdout.contains("~ r1n1: rekey"), "\(during.stdout)")
        #expect(during.stdout.contains("rekeyAgent"))
        #expect(during.stdout.contains("1 agent key to rotate"))
        let json = try await site.dryRun(["--output", "json"])
        #expect(json.stdout.contains("\"kind\" : \"rekeyAgent\"") && json.stdout.contains("\"rekey\" : 1,"))
    }
}
