import Foundation
import Reconciler
import Testing

/// Every good fixture loads cleanly; every bad one gives exactly its golden diagnostics.
struct LoaderGoldenTests {
    static let good = Repo.children(of: Repo.loaderFixtures.appendingPathComponent("good"))
    static let bad = ["schema", "semantic"].flatMap { group in
        Repo.children(of: Repo.loaderFixtures.appendingPathComponent("bad/\(group)")).map { "\(group)/\($0)" }
    }

    @Test(arguments: good)
    func goodFixtureLoads(name: String) throws {
        let site = try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("good/\(name)"))
        let result = site.load()
        #expect(result.diagnostics.isEmpty, "\(result.renderDiagnostics())")
        #expect(result.state != nil)
    }

    @Test(arguments: bad)
    func badFixtureMatchesGolden(name: String) throws {
        let fixture = Repo.loaderFixtures.appendingPathComponent("bad/\(name)")
        let site = try FixtureSite(fixture: fixture)
        let result = site.load()
        #expect(result.state == nil, "an invalid site must never produce a desired state")
        #expect(result.hasErrors)
        let rendered = result.renderDiagnostics()
        let golden = fixture.appendingPathComponent("expected.txt")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(rendered == expected)
    }

    @Test func examplesLoad() throws {
        for example in Repo.children(of: Repo.examples) {
            let result = SiteLoader.load(path: Repo.examples.appendingPathComponent(example).path)
            #expect(result.diagnostics.isEmpty, "\(example): \(result.renderDiagnostics())")
        }
    }
}
