import Foundation

/// A program started in the background with posix_spawn: stdin from /dev/null, stdout and stderr into one
/// file, a clean signal mask (a test runner may block or ignore signals the child must see), and extra
/// environment. `wait` polls `waitpid` — no thread blocks on it.
///
/// The child leads a process group of its own, which `ChildWatchdog` kills if the test runner dies first (a test
/// that timed out, a runner killed by CI); a `LabProcess` released while its program still runs kills that group.
public final class LabProcess: @unchecked Sendable {
    public let pid: pid_t
    public let outputFile: String
    private let lock = NSLock()
    private var exitStatus: Int32?
    private var stoppedAtTimeout = false
    private var endedBySignal = false
    private var detached = false

    /// Starts `executable`; its stderr goes to `errorFile` when one is given, else with stdout into `outputFile`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                outputFile: String, errorFile: String? = nil) throws {
        self.outputFile = outputFile
        pid = try spawnChild(executable, arguments, environment: environment, stdout: outputFile, stderr: errorFile)
    }

    deinit {
        if exitStatus == nil && !detached { stop() }
    }

    /// Lets the program outlive this object (a server the whole test process shares); the runner's watchdog still
    /// kills it when the runner ends.
    public func detach() { lock.withLock { detached = true } }

    /// Sends a signal (SIGKILL by default) to the program.
    public func signal(_ number: Int32 = SIGKILL) { kill(pid, number) }

    /// Kills the program's whole process group (what it started too) and reaps it.
    public func stop() {
        if lock.withLock({ exitStatus }) != nil { return }
        var raw: Int32 = 0
        switch waitpid(pid, &raw, WNOHANG) {
        case pid:
            // Ended already: what it left running in its group goes too.
            record(raw)
            kill(-pid, SIGKILL)
        case -1:
            // Reaped by the test itself (a raw waitpid): the pid may be anyone's now, so nothing is signalled.
            record(0)
        default:
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
            record(raw)
        }
    }

    /// Whether `wait` had to stop the process at its timeout.
    public var timedOut: Bool { lock.withLock { stoppedAtTimeout } }
    /// Whether the process ended by a signal (a crash, or the timeout).
    public var signaled: Bool { lock.withLock { endedBySignal } }
    /// The exit status (128 + signal when killed), once the process has ended and been reaped.
    public var status: Int32? {
        if let status = lock.withLock({ exitStatus }) { return status }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        return record(raw)
    }
    /// Whether the program still runs (it is reaped as soon as it is seen to have ended).
    public var isRunning: Bool { status == nil }

    /// Waits for the exit. After `timeout` seconds the process gets SIGKILL — or, with a `grace`, SIGTERM first
    /// (a harness that tears its lab down on SIGTERM) and SIGKILL `grace` seconds later. Returns the exit status,
    /// or 128 + signal.
    /// The poll starts at 1 ms and doubles to 50 ms: a short child (git, ipmitool) is seen within milliseconds.
    @discardableResult
    public func wait(timeout: Double, grace: Double = 0) async -> Int32 {
        let started = Date()
        var terminatedAt: Date?
        var pause = 1
        while true {
            if let status { return status }
            if terminatedAt == nil, Date().timeIntervalSince(started) > timeout {
                lock.withLock { stoppedAtTimeout = true }
                terminatedAt = Date()
                if grace > 0 { kill(pid, SIGTERM) } else { killGroup() }
            }
            if let terminatedAt, grace > 0, Date().timeIntervalSince(terminatedAt) > grace { killGroup() }
            try? await Task.sleep(for: .milliseconds(pause))
            pause = min(pause * 2, 50)
        }
    }

    /// Waits for the exit holding this thread: only where no `await` is possible (a `defer`, a suite's condition),
    /// for a program that ends at once. Returns the exit status, or 128 + signal.
    @discardableResult
    public func waitBlocking() -> Int32 {
        if let status = lock.withLock({ exitStatus }) { return status }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
        return record(raw)
    }

    /// What it printed so far; bytes that are not UTF-8 (a bencoded answer, say) become replacement characters.
    public var output: String {
        String(decoding: FileManager.default.contents(atPath: outputFile) ?? Data(), as: UTF8.self)
    }

    private func killGroup() {
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
    }

    /// Stores how the process ended (from a raw `waitpid` status) and lets the watchdog forget it.
    @discardableResult
    private func record(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        let status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        lock.withLock {
            exitStatus = status
            endedBySignal = signal != 0
        }
        ChildWatchdog.shared.forget(pid)
        return status
    }
}

/// How a command run by `runCommand` ended, with everything it printed (stdout and stderr, interleaved; or
/// stdout then stderr when they were kept apart).
public struct LabCommandResult: Sendable {
    public var status: Int32
    public var output: String
    public var timedOut: Bool
    public var signaled: Bool
    /// stderr alone, when `runCommand` kept it apart (`separateErrors`); else empty.
    public var errorOutput = ""

    /// Exited 0, neither killed nor stopped at its timeout.
    public var succeeded: Bool { status == 0 && !signaled && !timedOut }

    /// One line saying how the command ended, then what it printed, for failure messages.
    public var summary: String {
        let ending = timedOut ? "timed out" : signaled ? "killed by signal \(status - 128)" : "exited \(status)"
        return ending + ": " + output
    }
}

/// Runs a program to its end (stopped after `timeout` s, see `LabProcess.wait`) and returns how it ended. A
/// program that cannot be started ends with status 127 and says why. With `separateErrors`, stderr is kept apart
/// in `errorOutput` (and follows stdout in `output`).
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       timeout: Double = 60, grace: Double = 0, separateErrors: Bool = false) async
    -> LabCommandResult
{
    let file = NSTemporaryDirectory() + "rs-cmd-\(getpid())-\(UUID().uuidString.prefix(8)).log"
    let errorFile = separateErrors ? file + ".err" : nil
    defer {
        try? FileManager.default.removeItem(atPath: file)
        if let errorFile { try? FileManager.default.removeItem(atPath: errorFile) }
    }
    let process: LabProcess
    do {
        process = try LabProcess(executable, arguments, environment: environment, outputFile: file,
                                 errorFile: errorFile)
    } catch {
        return LabCommandResult(status: 127, output: "\(error)", timedOut: false, signaled: false)
    }
    let status = await process.wait(timeout: timeout, grace: grace)
    let errors = errorFile.map { String(decoding: FileManager.default.contents(atPath: $0) ?? Data(), as: UTF8.self) }
    return LabCommandResult(status: status, output: process.output + (errors ?? ""), timedOut: process.timedOut,
                            signaled: process.signaled, errorOutput: errors ?? "")
}

public struct LabError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension LabProcess {
    /// Waits up to `timeout` seconds, while the process runs, for `path` to hold one JSON object (a server's
    /// `-o json --out-file` status line); nil when none came.
    public func jsonFile(_ path: String, timeout: Duration = .seconds(60)) async throws -> [String: Any]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, isRunning {
            if let document = (try? Data(contentsOf: URL(fileURLWithPath: path)))
                .flatMap({ try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }) {
                return document
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}
