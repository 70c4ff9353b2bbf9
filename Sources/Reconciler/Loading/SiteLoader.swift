import Dispatch
import Foundation
import ReconcilerModel

/// What loading a site directory produced: the desired state when it is valid, and every diagnostic found.
public struct LoadResult: Sendable {
    /// Nil whenever `diagnostics` has an error: nothing is ever acted on from an invalid repo.
    public var state: DesiredState?
    public var diagnostics: [Diagnostic]
    /// Absolute root the file paths in locations are relative to.
    public var root: String
    /// Files read, relative to `root`, in load order.
    public var files: [String]

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// Renders the diagnostics with source excerpts, reading only the files they name.
    public func renderDiagnostics(colour: Bool = false) -> String {
        var sources: [String: String] = [:]
        for diagnostic in diagnostics {
            for file in [diagnostic.location.file] + diagnostic.related.map(\.location.file)
            where sources[file] == nil {
                let path = file.hasPrefix("/") ? file : root + "/" + file
                sources[file] = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            }
        }
        return DiagnosticRenderer(sources: sources, colour: colour).render(diagnostics)
    }
}

/// Loads every YAML file under a directory into a validated `DesiredState`.
public enum SiteLoader {
    /// Loads `path`, a directory (searched recursively for `*.yaml` / `*.yml`, hidden folders skipped) or one file.
    /// `parallel: false` decodes on one core (the benchmark reports both). With `relativeTo`, an ancestor
    /// directory of `path` (the repo root), diagnostics name files relative to it, e.g. `site/racks/r1.yaml`.
    public static func load(path: String, relativeTo base: String? = nil, parallel: Bool = true) -> LoadResult {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            let location = SourceLocation(file: path, line: 0, column: 0)
            return LoadResult(state: nil, diagnostics: [.error(at: location, "no such file or directory")],
                              root: url.path, files: [])
        }
        var root = isDirectory.boolValue ? url.path : url.deletingLastPathComponent().path
        var files = isDirectory.boolValue ? yamlFiles(under: url) : [url.lastPathComponent]
        if let base {
            let basePath = URL(fileURLWithPath: base).standardizedFileURL.path
            if root.hasPrefix(basePath + "/") {
                let prefix = String(root.dropFirst(basePath.count + 1))
                files = files.map { prefix + "/" + $0 }
                root = basePath
            }
        }
        return load(files: files, root: root, parallel: parallel)
    }

    /// Loads the given files, paths relative to `root`.
    public static func load(files: [String], root: String, parallel: Bool = true) -> LoadResult {
        let parsed = parallel ? parseConcurrently(files: files, root: root)
            : files.map { loadFile($0, root: root) }
        var diagnostics: [Diagnostic] = []
        for result in parsed { diagnostics += result.diagnostics }
        let (state, crossDiagnostics) = CrossReferenceValidator.validate(
            parsed.map(\.documents), root: root, fileCount: files.count,
            earlierErrors: diagnostics.contains { $0.severity == .error })
        diagnostics += crossDiagnostics
        diagnostics.sort { $0.location < $1.location }
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return LoadResult(state: hasErrors ? nil : state, diagnostics: diagnostics, root: root, files: files)
    }

    /// Every `*.yaml` / `*.yml` below `directory`, relative, sorted; folders starting with `.` are skipped.
    static func yamlFiles(under directory: URL) -> [String] {
        guard let enumerator = FileManager.default.enumerator(
            at: directory, includingPropertiesForKeys: [.isRegularFileKey],
            options: [.skipsHiddenFiles, .skipsPackageDescendants])
        else { return [] }
        let base = directory.path.hasSuffix("/") ? directory.path : directory.path + "/"
        var files: [String] = []
        for case let file as URL in enumerator {
            let ext = file.pathExtension
            guard ext == "yaml" || ext == "yml" else { continue }
            let full = file.standardizedFileURL.path
            files.append(full.hasPrefix(base) ? String(full.dropFirst(base.count)) : full)
        }
        return files.sorted()
    }

    struct FileResult: Sendable {
        var documents: [DecodedDocument] = []
        var diagnostics: [Diagnostic] = []
    }

    /// Parses and decodes files on all cores; results keep the input order.
    static func parseConcurrently(files: [String], root: String) -> [FileResult] {
        let results = ResultSlots(count: files.count)
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            results.set(index, loadFile(files[index], root: root))
        }
        return results.values
    }

    static func loadFile(_ file: String, root: String) -> FileResult {
        let path = file.hasPrefix("/") ? file : root + "/" + file
        guard let data = FileManager.default.contents(atPath: path) else {
            return FileResult(diagnostics: [.error(at: SourceLocation(file: file, line: 0, column: 0),
                                                   "cannot read file")])
        }
        let (yamlDocuments, yamlDiagnostics) = YAMLParser(file: file).parse([UInt8](data))
        var result = FileResult(diagnostics: yamlDiagnostics)
        var decoder = DocumentDecoder(file: file)
        for document in yamlDocuments {
            guard let root = document.root, !root.isNull else { continue }
            if let decoded = decoder.decode(root) { result.documents.append(decoded) }
        }
        result.diagnostics += decoder.diagnostics
        return result
    }
}

/// Fixed slots written from concurrent iterations, each index once.
private final class ResultSlots: @unchecked Sendable {
    private var slots: [SiteLoader.FileResult]
    private let lock = NSLock()

    init(count: Int) {
        slots = Array(repeating: SiteLoader.FileResult(), count: count)
    }

    func set(_ index: Int, _ value: SiteLoader.FileResult) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    var values: [SiteLoader.FileResult] {
        lock.lock()
        defer { lock.unlock() }
        return slots
    }
}
