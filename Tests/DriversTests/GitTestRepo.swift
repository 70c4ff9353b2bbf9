import Foundation

/// A real git repository made with the git CLI in a temporary directory, removed on deinit.
final class GitTestRepo {
    let root: URL
    var path: String { root.appendingPathComponent("origin").path }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("rackswarm-git-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: root.appendingPathComponent("origin").path,
                                                withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    var cacheRoot: String { root.appendingPathComponent("cache").path }

    /// Writes `files` and commits them; returns the new commit's SHA.
    @discardableResult
    func commit(_ message: String, files: [String: String]) throws -> String {
        for (name, text) in files {
            let url = URL(fileURLWithPath: path).appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try git("add", "-A")
        try git("commit", "-q", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    @discardableResult
    func git(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-C", path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_AUTHOR_NAME"] = "Test Operator"
        environment["GIT_AUTHOR_EMAIL"] = "ops@example.net"
        environment["GIT_COMMITTER_NAME"] = "Test Operator"
        environment["GIT_COMMITTER_EMAIL"] = "ops@example.net"
        environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "git \(arguments) failed"])
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
