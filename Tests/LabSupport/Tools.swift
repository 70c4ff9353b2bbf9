import Foundation

/// Runs a short program (a built `reconcile`, git, ipmitool) to its end and returns its exit status and what it
/// wrote on stdout and on stderr. `environment` adds to (or overrides) this process's environment. Both pipes are
/// read before waiting, so a large output cannot block the child.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
    throws -> (status: Int32, stdout: String, stderr: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
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
