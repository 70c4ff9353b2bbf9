import Foundation
import LabSupport
import Reconciler

/// Paths of the repo and its test fixtures, found from this source file.
enum Repo {
    static let root = URL(fileURLWithPath: packageRoot)
    static let fixtures = root.appendingPathComponent("Tests/ReconcilerTests/Fixtures")
    static let loaderFixtures = fixtures.appendingPathComponent("loader")
    static let examples = root.appendingPathComponent("examples")

    /// The sub-directories of `directory`, sorted.
    static func children(of directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") }
            .sorted()
    }

    /// Every YAML file under `directory`, absolute, sorted.
    static func yamlFiles(under directory: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { files.append(directory.path + "/" + path) }
        }
        return files.sorted()
    }

    /// The python with jsonschema and PyYAML (`make setup` puts them in .venv).
    static var python: String {
        if let python = ProcessInfo.processInfo.environment["RACKSWARM_PYTHON"] { return python }
        return root.appendingPathComponent(".venv/bin/python").path
    }
}

/// A temporary site: the shared base fixture with one fixture's files laid over it. Removed on deinit.
final class FixtureSite {
    private let temporary: TemporaryDirectory
    let directory: URL

    init(fixture: URL) throws {
        temporary = try TemporaryDirectory("rackswarm-fixture")
        directory = URL(fileURLWithPath: temporary.path)
        try Self.copyContents(of: Repo.loaderFixtures.appendingPathComponent("base"), into: directory)
        try Self.copyContents(of: fixture, into: directory)
    }

    func load() -> LoadResult { SiteLoader.load(path: directory.path) }

    private static func copyContents(of source: URL, into target: URL) throws {
        let manager = FileManager.default
        let enumerator = manager.enumerator(atPath: source.path)
        while let relative = enumerator?.nextObject() as? String {
            let from = source.appendingPathComponent(relative)
            let to = target.appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            _ = manager.fileExists(atPath: from.path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                try manager.createDirectory(at: to, withIntermediateDirectories: true)
            } else if relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") {
                if manager.fileExists(atPath: to.path) { try manager.removeItem(at: to) }
                try manager.copyItem(at: from, to: to)
            }
        }
    }
}

