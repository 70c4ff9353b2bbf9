import Foundation
import MemberwiseInit

/// What a finished command did.
@PublicMemberwiseInit
public struct CommandResult: Sendable, Hashable {
    /// Exit status, or 128 + signal number when it was killed by a signal.
    public var status: Int32
    /// True when the command was killed by a signal (a crash, or our timeout).
    public var signaled: Bool = false
    /// True when we killed it for running past its timeout.
    public var timedOut: Bool = false
    /// stdout then stderr, at most the last 8 KiB of each.
    public var output: String = ""
    /// stderr alone, at most its last 8 KiB (for error messages that quote what the command complained about).
    public var errorOutput: String = ""

    public var succeeded: Bool { status == 0 && !signaled && !timedOut }

    /// One line saying how the command ended, for error details.
    public var summary: String {
        if timedOut { return "timed out" }
        if signaled { return "killed by signal \(status - 128)" }
        return "exited \(status)"
    }
}

/// Runs an external program to completion.
public protocol CommandRunning: Sendable {
    /// Runs `executable` with `arguments`; `environment` entries override the agent's own.
    func run(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration
    ) async -> CommandResult
}

/// Runs programs with `posix_spawn` and `waitpid`; output goes to temporary files, not pipes.
///
/// Not Foundation's `Process`: on Linux it learns that a child ended from a socket the child inherits, so a
/// daemon that a start script leaves running keeps it waiting forever. Here only the direct child counts.
@PublicMemberwiseInit
public struct ProcessCommandRunner: CommandRunning {

    public func run(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration
    ) async -> CommandResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rackswarm-cmd-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            return CommandResult(status: 127, output: "cannot create a temporary directory: \(error)")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("out").path
        let errPath = directory.appendingPathComponent("err").path
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pid: pid_t
        switch Self.spawn(executable, arguments, environment: merged, stdout: outPath, stderr: errPath) {
        case .failure(let failure): return CommandResult(status: 127, output: failure.message)
        case .success(let spawned): pid = spawned
        }
        let timer = TimeoutKiller(pid: pid, after: timeout)
        // waitpid blocks: it gets a thread of its own. On Dispatch's global queue (two threads wide on a
        // 2-core machine) two long waits would starve every other wait and the timeout timers.
        let raw: Int32 = await withCheckedContinuation { continuation in
            let waiter = Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: status)
            }
            waiter.name = "rackswarm.waitpid.\(pid)"
            waiter.start()
        }
        let timedOut = timer.finish()
        let errorOutput = Self.tail(errPath)
        let output = Self.tail(outPath) + errorOutput
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS by hand: the C macros are not imported.
        let signal = raw & 0x7f
        if signal != 0 && signal != 0x7f {
            return CommandResult(status: 128 + signal, signaled: true, timedOut: timedOut, output: output,
                                 errorOutput: errorOutput)
        }
        return CommandResult(status: (raw >> 8) & 0xff, timedOut: timedOut, output: output, errorOutput: errorOutput)
    }

    private static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String], stdout: String, stderr: String
    ) -> Result<pid_t, SpawnFailure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal dispositions and an empty mask, whatever the agent's runtime set up.
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        var result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        // ETXTBSY: some other child, forked while the script was still open for writing, holds it open. That
        // clears within moments (the child execs or exits); a freshly written start script must not fail on it.
        var attempts = 0
        while result == ETXTBSY && attempts < 50 {
            attempts += 1
            usleep(20_000)
            result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        guard result == 0 else {
            return .failure(SpawnFailure("cannot start \(executable): \(String(cString: strerror(result)))"))
        }
        return .success(pid)
    }

    private static func tail(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data.suffix(8192), as: UTF8.self)
    }
}

private struct SpawnFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Kills a child that runs past its timeout: SIGTERM, then SIGKILL two seconds later.
private final class TimeoutKiller: @unchecked Sendable {
    private let pid: pid_t
    private let lock = NSLock()
    private var done = false
    private var fired = false

    init(pid: pid_t, after timeout: Duration) {
        self.pid = pid
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            guard lock.withLock({ () -> Bool in
                if done { return false }
                fired = true
                return true
            }) else { return }
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in
                if !lock.withLock({ done }) { kill(pid, SIGKILL) }
            }
        }
    }

    /// Marks the child reaped; returns true when the timeout fired.
    func finish() -> Bool {
        lock.withLock {
            done = true
            return fired
        }
    }
}
