import Foundation
import LabSupport
import Testing

/// Runs the built `reconcile` binary, as an operator would.
struct ValidateCommandTests {
    static var binary: String {
        let debug = Repo.root.appendingPathComponent(".build/debug/reconcile").path
        return ProcessInfo.processInfo.environment["RACKSWARM_RECONCILE"] ?? debug
    }

    @Test func validExampleGivesSummaryAndExitZero() throws {
        let path = Repo.examples.appendingPathComponent("datacenter").path
        let (status, stdout, _) = try runProcess(Self.binary, ["validate", path])
        #expect(status == 0)
        #expect(stdout.contains("valid: site 'dc1', 2 racks, 8 nodes, 1 image, 2 services in 6 files"))
    }

    @Test func invalidSiteGivesCaretDiagnosticsAndExitOne() throws {
        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("bad/schema/unknown-field"))
        let (status, stdout, stderr) = try runProcess(Self.binary, ["validate", site.directory.path])
        #expect(status == 1)
        #expect(stdout.isEmpty)
        #expect(stderr.contains("bad.yaml:7:3: error: unknown field 'macc' in Node 'n2' spec\n  macc:"))
        #expect(stderr.contains("note: did you mean 'mac'?"))
        #expect(stderr.contains("nothing was applied"))
    }
}
