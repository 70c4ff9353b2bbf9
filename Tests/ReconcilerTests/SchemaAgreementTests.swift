import Foundation
import LabSupport
import Reconciler
import Testing

/// `schema/rackswarm.schema.json`, checked by a real JSON Schema validator (python jsonschema), accepts exactly
/// what the loader accepts on the fixtures, and accepts every file in `examples/`.
///
/// Fixtures under `bad/semantic` break rules a per-document schema cannot state (duplicate keys, references
/// between documents, uniqueness across files): the schema accepts them and the loader must not.
struct SchemaAgreementTests {
    /// Runs the validator over `files`; returns the errors per file.
    static func schemaErrors(_ files: [String]) throws -> [String: [String]] {
        let script = Repo.root.appendingPathComponent("schema/validate.py").path
        let (status, stdout, stderr) = try runProcess(Repo.python, [script] + files)
        try #require(status == 0, "validator failed: \(stderr)")
        return try JSONDecoder().decode([String: [String]].self, from: Data(stdout.utf8))
    }

    @Test func examplesValidateAgainstSchema() throws {
        let files = Repo.yamlFiles(under: Repo.examples)
        try #require(!files.isEmpty)
        let report = try Self.schemaErrors(files)
        for file in files {
            #expect(report[file] == [], "\(file): \(report[file] ?? ["missing"])")
        }
    }

    @Test func schemaAndLoaderAgreeOnFixtures() throws {
        var cases: [(name: String, site: FixtureSite, schemaShouldAccept: Bool, loaderShouldAccept: Bool)] = []
        for name in LoaderGoldenTests.good {
            cases.append((name, try FixtureSite(fixture: Repo.loaderFixtures.appendingPathComponent("good/\(name)")),
                          true, true))
        }
        for name in LoaderGoldenTests.bad {
            let fixture = Repo.loaderFixtures.appendingPathComponent("bad/\(name)")
            cases.append((name, try FixtureSite(fixture: fixture), !name.hasPrefix("schema/"), false))
        }
        let files = cases.flatMap { Repo.yamlFiles(under: $0.site.directory) }
        let report = try Self.schemaErrors(files)
        for item in cases {
            let errors = Repo.yamlFiles(under: item.site.directory).flatMap { report[$0] ?? ["not validated"] }
            #expect(errors.isEmpty == item.schemaShouldAccept,
                    "schema verdict on \(item.name): \(errors.isEmpty ? "accepted" : "rejected: \(errors)")")
            let loaded = item.site.load()
            #expect((loaded.state != nil) == item.loaderShouldAccept, "loader verdict on \(item.name)")
        }
    }
}
