import Dispatch
import Foundation
import RackswarmCore
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

    /// Renders the diagnostics with source excerpts, reading only the files they name, and only under the
    /// same rule as loading (inside the root, regular, bounded): a refused file is never quoted.
    public func renderDiagnostics(colour: Bool = false) -> String {
        var sources: [String: String] = [:]
        for diagnostic in diagnostics {
            for file in [diagnostic.location.file] + diagnostic.related.map(\.location.file)
            where sources[file] == nil {
                let bytes = try? SiteLoader.readConfined(file, root: root)
                sources[file] = bytes.map { String(decoding: $0, as: UTF8.self) } ?? ""
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
        var result = load(files: files, root: root, parallel: parallel)
        if let state = result.state {
            let siteDirectory = isDirectory.boolValue ? url.path : url.deletingLastPathComponent().path
            let refusals = imageFileRefusals(state, siteDirectory: siteDirectory, root: root)
            if !refusals.isEmpty {
                result.diagnostics = (result.diagnostics + refusals).sorted { $0.location < $1.location }
                result.state = nil
            }
        }
        return result
    }

    /// The largest YAML file read (a site's biggest is well under 1 MiB).
    public static let maximumFileSize = 16 << 20

    /// Reads a site file under the repo rule (`ConfinedPath`): inside `root` after resolving symlinks, a regular
    /// file, at most `maximumFileSize` bytes.
    static func readConfined(_ file: String, root: String) throws(ConfinedPath.Refusal) -> [UInt8] {
        let resolved = file.hasPrefix("/")
            ? try ConfinedPath.resolveJoined(file, shown: file, inside: root)
            : try ConfinedPath.resolve(file, from: root, inside: root)
        return try ConfinedPath.contents(resolved, shown: file, limit: maximumFileSize)
    }

    /// Image `file:` paths that exist but resolve outside the repo or are not regular files. Written `..` and
    /// absolute paths were refused while decoding; a file not there yet is the seeder's to report.
    static func imageFileRefusals(_ state: DesiredState, siteDirectory: String, root: String) -> [Diagnostic] {
        state.images.compactMap { image in
            guard case .file(let path) = image.source else { return nil }
            do throws(ConfinedPath.Refusal) {
                _ = try ConfinedPath.resolve(path, from: siteDirectory, inside: root)
                return nil
            } catch {
                if error.isMissing { return nil }
                return .error(at: image.location, "image '\(image.reference)' file: \(error.message)")
            }
        }
    }

    /// Loads the given files, paths relative to `root`.
    public static func load(files: [String], root: String, parallel: Bool = true) -> LoadResult {
        var parsed = parallel ? parseConcurrently(files: files, root: root)
            : files.map { loadFile($0, root: root) }
        var diagnostics: [Diagnostic] = []
        // Each file's documents are moved out, so that the validator holds the only reference and frees them as
        // it takes the nodes out (with a second reference, it copied each file's documents and freed none).
        var documents: [[DecodedDocument]] = []
        documents.reserveCapacity(parsed.count)
        for index in parsed.indices {
            diagnostics += parsed[index].diagnostics
            documents.append(parsed[index].documents)
            parsed[index].documents = []
        }
        let (state, crossDiagnostics) = CrossReferenceValidator.validate(
            consume documents, root: root, fileCount: files.count,
            earlierErrors: diagnostics.contains { $0.severity == .error })
        diagnostics += crossDiagnostics
        diagnostics.sort { $0.location < $1.location }
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return LoadResult(state: hasErrors ? nil : state, diagnostics: diagnostics, root: root, files: files)
    }

    /// The `Site` document of one file (relative to `root`), decoded without the rest of the site: nil when the
    /// file cannot be read, has errors, or holds no `Site`. What `CommitGate` needs of an earlier commit.
    public static func siteDocument(file: String, root: String) -> Site? {
        let result = loadFile(file, root: root)
        guard !result.diagnostics.contains(where: { $0.severity == .error }) else { return nil }
        for case .site(let site) in result.documents { return site }
        return nil
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
        let data: [UInt8]
        do throws(ConfinedPath.Refusal) {
            data = try readConfined(file, root: root)
        } catch {
            return FileResult(diagnostics: [.error(at: SourceLocation(file: file, line: 0, column: 0),
                                                   "cannot read file: \(error.message)")])
        }
        let (yamlDocuments, yamlDiagnostics) = YAMLParser(file: file).parse(data)
        var result = FileResult(diagnostics: yamlDiagnostics)
        result.documents.reserveCapacity(yamlDocuments.count)
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
