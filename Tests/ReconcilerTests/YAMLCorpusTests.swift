import Foundation
import Reconciler
import Testing

/// Every input libFuzzer kept for the site loader (Fuzz/corpus/yaml, grown by scripts/fuzz.sh), loaded as a
/// one-file site through the real loader on every test run: a state or located diagnostics, never a trap.
struct YAMLCorpusTests {
    @Test func corpusLoads() throws {
        let corpus = Repo.root.appendingPathComponent("Fuzz/corpus/yaml")
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()
        #expect(files.count >= 10)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("yaml-corpus-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let site = directory.appendingPathComponent("site.yaml")
        var refused = 0
        for file in files {
            try Data(contentsOf: corpus.appendingPathComponent(file)).write(to: site)
            let result = SiteLoader.load(path: directory.path)
            #expect(result.hasErrors == (result.state == nil), "\(file)")
            #expect(result.diagnostics.allSatisfy { $0.location.line >= 0 && $0.location.column >= 0 })
            if result.hasErrors {
                refused += 1
                #expect(!result.renderDiagnostics().isEmpty)
            }
        }
        #expect(refused >= 1)
    }
}
