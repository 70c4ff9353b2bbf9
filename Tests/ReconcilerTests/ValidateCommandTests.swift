import Foundation
import LabSupport
import Testing

/// Runs the built `reconcile` binary, as an operator would.
struct ValidateCommandTests {
    static var binary: String {
        let debug = Repo.root.appendingPathComponent(".build/debug/reconcile").path
        return ProcessInfo.processInfo.environment["RACKSWARM_RECONCILE"] ?? debug
    }

    /// The command tree of one of the built executables (`reconcile`, `provision-agent`), as argument-parser dumps
    /// it: the tests that hold every command to the shared flags walk it.
    static func commandTree(of executable: String) async throws -> [String: Any] {
        let binary = URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent(executable).path
        let (status, stdout, stderr) = try await runProcess(binary, ["--experimental-dump-help"])
        #expect(status == 0, "\(stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test func validExampleGivesSummaryAndExitZero() async throws {
        let path = Repo.examples.appendingPathComponent("datacenter").path
        let (status, stdout, _) = try await runProcess(Self.binary, ["validate", path])
        #expect(status == 0)
        #expect(stdout.contains("valid: site 'dc1', 2 racks, 8 nodes, 1 image, 2 services in 6 files"))
    }

    @Test func invalidSiteGivesCaretDiagnosticsAndExitOne() async throws {
        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("bad/schema/unknown-field"))
        let (status, stdout, stderr) = try await runProcess(Self.binary, ["validate", site.directory.path])
        #expect(status == 1)
        #expect(stdout.isEmpty)
        #expect(stderr.contains("bad.yaml:7:3: error: unknown field 'macc' in Node 'n2' spec\n  macc:"))
        #expect(stderr.contains("note: did you mean 'mac'?"))
        #expect(stderr.contains("nothing was applied"))
    }

    @Test func jsonOutputCarriesTheVerdictTheCountsAndEachLocatedDiagnostic() async throws {
        let path = Repo.examples.appendingPathComponent("datacenter").path
        let (status, stdout, stderr) = try await runProcess(Self.binary, ["validate", path, "-o", "json"])
        #expect(status == 0, "\(stderr)")
        let valid = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        #expect(valid["valid"] as? Bool == true)
        #expect(valid["site"] as? String == "dc1")
        #expect(valid["nodes"] as? Int == 8 && valid["racks"] as? Int == 2 && valid["files"] as? Int == 6)
        #expect((valid["diagnostics"] as? [Any])?.isEmpty == true)

        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("bad/schema/unknown-field"))
        let outFile = site.directory.appendingPathComponent("verdict.json").path
        let bad = try await runProcess(Self.binary,
                                 ["validate", site.directory.path, "--output", "json", "--out-file", outFile])
        #expect(bad.0 == 1)
        #expect(bad.1.isEmpty, "the document goes to --out-file only")
        let document = try Data(contentsOf: URL(fileURLWithPath: outFile))
        let invalid = try #require(try JSONSerialization.jsonObject(with: document) as? [String: Any])
        #expect(invalid["valid"] as? Bool == false)
        #expect(invalid["site"] == nil && invalid["nodes"] == nil)
        let diagnostics = try #require(invalid["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.allSatisfy { $0["severity"] as? String != nil && $0["location"] != nil })
        let first = try #require(diagnostics.first { ($0["message"] as? String)?.hasPrefix("unknown field") == true })
        let location = try #require(first["location"] as? [String: Any])
        #expect(first["severity"] as? String == "error")
        #expect(first["message"] as? String == "unknown field 'macc' in Node 'n2' spec")
        #expect(first["hint"] as? String == "did you mean 'mac'?")
        #expect((location["file"] as? String)?.hasSuffix("bad.yaml") == true)
        #expect(location["line"] as? Int == 7 && location["column"] as? Int == 3)
    }
}
