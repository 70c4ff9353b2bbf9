import Foundation

/// Runs a short program (a built `reconcile`, git, ipmitool) to its end and returns its exit status and what it
/// wrote on stdout and on stderr. `environment` adds to (or overrides) this process's environment. The output goes
/// to files (a large output cannot block the child); the child is a `LabProcess`, watched (see `ChildWatchdog`).
///
/// The wait polls (`LabProcess.wait`) instead of blocking in `waitpid`: a test task must never hold one of the few
/// cooperative threads (two on these machines) while a child runs, or every other test's deadline in the process
/// runs out while its task cannot be scheduled. A loaded rest group once stalled 110 s so.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
    async throws -> (status: Int32, stdout: String, stderr: String)
{
    let files = CapturedOutput()
    let process = try files.start(executable, arguments, environment: environment)
    return files.result(await process.wait(timeout: .infinity))
}

/// `runProcess` for the few places that cannot wait asynchronously (a suite's enabling condition, a `defer`): it
/// holds its thread until the child ends, so only for commands that end at once (`losetup -d`, `python3 -c`).
public func runProcessBlocking(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
    throws -> (status: Int32, stdout: String, stderr: String)
{
    let files = CapturedOutput()
    let process = try files.start(executable, arguments, environment: environment)
    return files.result(process.waitBlocking())
}

/// The two temporary files a `runProcess` child writes its stdout and stderr to, read and removed at the end.
private struct CapturedOutput {
    let base = NSTemporaryDirectory() + "rs-run-\(getpid())-\(UUID().uuidString.prefix(8))"

    func start(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> LabProcess {
        try LabProcess(executable, arguments, environment: environment, outputFile: base + ".out",
                       errorFile: base + ".err")
    }

    func result(_ status: Int32) -> (status: Int32, stdout: String, stderr: String) {
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        func read(_ path: String) -> String {
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        return (status, read(base + ".out"), read(base + ".err"))
    }
}

/// Runs git in `directory` as a fixed author and committer, with no global configuration, and returns its stdout
/// trimmed; throws `LabError` with git's stderr when it fails.
@discardableResult
public func git(in directory: String, author: String = "Test Operator", email: String = "ops@example.net",
                _ arguments: [String]) async throws -> String
{
    let identity = [
        "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": email, "GIT_CONFIG_GLOBAL": "/dev/null",
    ]
    let result = try await runProcess("/usr/bin/git", ["-C", directory] + arguments, environment: identity)
    guard result.status == 0 else {
        throw LabError("git \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
    }
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}
