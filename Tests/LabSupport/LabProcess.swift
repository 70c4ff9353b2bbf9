import Foundation

/// A program started in the background with posix_spawn: stdin from /dev/null, stdout and stderr into one
/// file, a clean signal mask (a test runner may block or ignore signals the child must see), and extra
/// environment. `wait` polls `waitpid` — no thread blocks on it.
public final class LabProcess: @unchecked Sendable {
    public let pid: pid_t
    public let outputFile: String
    private let lock = NSLock()
    private var exitStatus: Int32?
    private var stoppedAtTimeout = false
    private var endedBySignal = false

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                outputFile: String) throws {
        self.outputFile = outputFile
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw LabError("cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        pid = child
    }

    /// Sends a signal (SIGKILL by default).
    public func signal(_ number: Int32 = SIGKILL) { kill(pid, number) }

    /// Whether `wait` had to stop the process at its timeout.
    public var timedOut: Bool { lock.withLock { stoppedAtTimeout } }
    /// Whether the process ended by a signal (a crash, or the timeout).
    public var signaled: Bool { lock.withLock { endedBySignal } }

    /// Waits for the exit. After `timeout` seconds the process gets SIGKILL — or, with a `grace`, SIGTERM first
    /// (a harness that tears its lab down on SIGTERM) and SIGKILL `grace` seconds later. Returns the exit status,
    /// or 128 + signal.
    @discardableResult
    public func wait(timeout: Double, grace: Double = 0) async -> Int32 {
        let started = Date()
        var terminatedAt: Date?
        while true {
            if let status = lock.withLock({ exitStatus }) { return status }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                let signal = raw & 0x7f
                let status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
                lock.withLock {
                    exitStatus = status
                    endedBySignal = signal != 0
                }
                return status
            }
            if terminatedAt == nil, Date().timeIntervalSince(started) > timeout {
                lock.withLock { stoppedAtTimeout = true }
                terminatedAt = Date()
                kill(pid, grace > 0 ? SIGTERM : SIGKILL)
            }
            if let terminatedAt, grace > 0, Date().timeIntervalSince(terminatedAt) > grace { kill(pid, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// What it printed so far; bytes that are not UTF-8 (a bencoded answer, say) become replacement characters.
    public var output: String {
        String(decoding: FileManager.default.contents(atPath: outputFile) ?? Data(), as: UTF8.self)
    }
}

/// How a command run by `runCommand` ended, with everything it printed (stdout and stderr, interleaved).
public struct LabCommandResult: Sendable {
    public var status: Int32
    public var output: String
    public var timedOut: Bool
    public var signaled: Bool
}

/// Runs a program to its end (stopped after `timeout` s, see `LabProcess.wait`) and returns how it ended. A
/// program that cannot be started ends with status 127 and says why.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       timeout: Double = 60, grace: Double = 0) async -> LabCommandResult {
    let file = NSTemporaryDirectory() + "rs-cmd-\(getpid())-\(UUID().uuidString.prefix(8)).log"
    defer { try? FileManager.default.removeItem(atPath: file) }
    let process: LabProcess
    do {
        process = try LabProcess(executable, arguments, environment: environment, outputFile: file)
    } catch {
        return LabCommandResult(status: 127, output: "\(error)", timedOut: false, signaled: false)
    }
    let status = await process.wait(timeout: timeout, grace: grace)
    return LabCommandResult(status: status, output: process.output, timedOut: process.timedOut,
                            signaled: process.signaled)
}

public struct LabError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
