import Foundation

/// The package's root directory, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The directory holding the built `reconcile` and `provision-agent` executables, if they are built.
var builtBinaries: String? {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
        packageRoot + "/.build/debug",
    ]
    return candidates.first {
        FileManager.default.isExecutableFile(atPath: "\($0)/provision-agent")
            && FileManager.default.isExecutableFile(atPath: "\($0)/reconcile")
    }
}

/// A finished command: its exit status (128 + signal when killed) and what it printed.
struct CommandResult: Sendable {
    var status: Int32
    var output: String
    var timedOut: Bool
}

/// Runs a command with posix_spawn, polling `waitpid` (no thread blocks), with its output in a file.
///
/// On timeout the command gets SIGTERM (the lab harness tears its lab down on SIGTERM), then SIGKILL 15 s later.
func runCommand(_ executable: String, _ arguments: [String], timeout: Double) async throws -> CommandResult {
    let outputFile = NSTemporaryDirectory() + "/rs-distlab-\(getpid())-\(UUID().uuidString.prefix(8)).log"
    defer { try? FileManager.default.removeItem(atPath: outputFile) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard spawned == 0 else {
        return CommandResult(status: -1, output: "spawn \(executable): error \(spawned)", timedOut: false)
    }
    let started = Date()
    var timedOut = false
    var terminatedAt: Date?
    while true {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            let signal = status & 0x7f
            let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            let output = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
            return CommandResult(status: code, output: output, timedOut: timedOut)
        }
        if terminatedAt == nil, Date().timeIntervalSince(started) > timeout {
            timedOut = true
            terminatedAt = Date()
            kill(pid, SIGTERM)
        }
        if let terminatedAt, Date().timeIntervalSince(terminatedAt) > 15 {
            kill(pid, SIGKILL)
        }
        try? await Task.sleep(for: .milliseconds(50))
    }
}

/// Network namespace names currently on the host.
func namespaceNames() async throws -> [String] {
    let listed = try await runCommand("/usr/sbin/ip", ["netns", "list"], timeout: 10)
    return listed.output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
}

/// Whether a process with this pid exists.
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
}
