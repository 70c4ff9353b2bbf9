import Foundation

/// Runs a short program (a built `reconcile`, git, ipmitool) to its end and returns its exit status and what it
/// wrote on stdout and on stderr. `environment` adds to (or overrides) this process's environment. The output goes
/// to files (a large output cannot block the child); the child is a watched one (see `ChildWatchdog`).
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
    throws -> (status: Int32, stdout: String, stderr: String)
{
    let base = NSTemporaryDirectory() + "rs-run-\(getpid())-\(UUID().uuidString.prefix(8))"
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let pid = try spawnChild(executable, arguments, environment: environment, stdout: base + ".out",
                             stderr: base + ".err")
    var raw: Int32 = 0
    while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
    ChildWatchdog.shared.forget(pid)
    let signal = raw & 0x7f
    let status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    func read(_ path: String) -> String {
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
    return (status, read(base + ".out"), read(base + ".err"))
}

/// `runProcess` for async tests: the wait for the child happens on a thread of its own. Swift's pool has one thread
/// per core (two on CI), and a test that blocks one for the seconds a command takes stalls every other test's task.
public func runProcessAsync(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
    async throws -> (status: Int32, stdout: String, stderr: String)
{
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try runProcess(executable, arguments, environment: environment) }) }
            .start()
    }
}

/// Runs git in `directory` as a fixed author and committer, with no global configuration, and returns its stdout
/// trimmed; throws `LabError` with git's stderr when it fails.
@discardableResult
public func git(in directory: String, author: String = "Test Operator", email: String = "ops@example.net",
                _ arguments: [String]) throws -> String
{
    let identity = [
        "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": email, "GIT_CONFIG_GLOBAL": "/dev/null",
    ]
    let result = try runProcess("/usr/bin/git", ["-C", directory] + arguments, environment: identity)
    guard result.status == 0 else {
        throw LabError("git \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
    }
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}
