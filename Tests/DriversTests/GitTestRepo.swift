import Foundation
import LabSupport

/// A real git repository made with the git CLI in a temporary directory, removed on deinit.
final class GitTestRepo {
    private let temporary: TemporaryDirectory
    let root: URL
    var path: String { root.appendingPathComponent("origin").path }

    init() async throws {
        temporary = try TemporaryDirectory("rackswarm-git")
        root = URL(fileURLWithPath: temporary.path)
        _ = try temporary.subdirectory("origin")
        try await git("init", "-q", "-b", "main")
    }

    var cacheRoot: String { root.appendingPathComponent("cache").path }

    /// Writes `files` and commits them; returns the new commit's SHA.
    @discardableResult
    func commit(_ message: String, files: [String: String]) async throws -> String {
        for (name, text) in files {
            let url = URL(fileURLWithPath: path).appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try await git("add", "-A")
        try await git("commit", "-q", "-m", message)
        return try await git("rev-parse", "HEAD")
    }

    @discardableResult
    func git(_ arguments: String...) async throws -> String {
        try await LabSupport.git(in: path, arguments)
    }
}
