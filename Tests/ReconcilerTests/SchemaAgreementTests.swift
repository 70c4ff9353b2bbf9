import Drivers
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
    static func schemaErrors(_ files: [String]) async throws -> [String: [String]] {
        let script = Repo.root.appendingPathComponent("schema/validate.py").path
        let (status, stdout, stderr) = try await runProcess(Repo.python, [script] + files)
        try #require(status == 0, "validator failed: \(stderr)")
        return try JSONDecoder().decode([String: [String]].self, from: Data(stdout.utf8))
    }

    @Test func examplesValidateAgainstSchema() async throws {
        let files = Repo.yamlFiles(under: Repo.examples)
        try #require(!files.isEmpty)
        let report = try await Self.schemaErrors(files)
        for file in files {
            #expect(report[file] == [], "\(file): \(report[file] ?? ["missing"])")
        }
    }

    @Test func schemaAndLoaderAgreeOnFixtures() async throws {
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
        let report = try await Self.schemaErrors(files)
        for item in cases {
            let errors = Repo.yamlFiles(under: item.site.directory).flatMap { report[$0] ?? ["not validated"] }
            #expect(errors.isEmpty == item.schemaShouldAccept,
                    "schema verdict on \(item.name): \(errors.isEmpty ? "accepted" : "rejected: \(errors)")")
            let loaded = item.site.load()
            #expect((loaded.state != nil) == item.loaderShouldAccept, "loader verdict on \(item.name)")
        }
    }

    /// The schema's BMC URL pattern accepts exactly the schemes the power-driver registry serves: every word the
    /// pattern names, alone or joined with `+`, is tried as a scheme, with the registry's and some near misses.
    @Test func theSchemasBMCSchemesAreTheRegistrys() throws {
        let schema = Repo.root.appendingPathComponent("schema/rackswarm.schema.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: schema)) as? [String: Any]
        let defs = try #require(json?["$defs"] as? [String: Any])
        let pattern = try #require((defs["bmcURL"] as? [String: Any])?["pattern"] as? String)
        let regex = try NSRegularExpression(pattern: pattern)
        let words = try NSRegularExpression(pattern: "[a-z]+")
            .matches(in: pattern, range: NSRange(pattern.startIndex..., in: pattern))
            .compactMap { Range($0.range, in: pattern).map { String(pattern[$0]) } }
        var candidates = Set(words + ["redfish", "http", "https", "ipmi2", "ilo4", "idrac", "redfishs"])
        candidates.formUnion(words.flatMap { first in words.map { "\(first)+\($0)" } })
        candidates.formUnion(PowerDriverRegistry.standard.schemes)
        let accepted = candidates.filter { scheme in
            let url = "\(scheme)://bmc-1.example.net"
            return regex.firstMatch(in: url, range: NSRange(url.startIndex..., in: url)) != nil
        }
        #expect(accepted.sorted() == PowerDriverRegistry.standard.schemes)
        #expect(accepted.sorted() == BMCScheme.allCases.map(\.rawValue).sorted(), "the site loader's schemes")
    }
}
