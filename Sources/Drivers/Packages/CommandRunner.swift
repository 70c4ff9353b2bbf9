import Foundation

/// What a finished command did.
public struct CommandResult: Sendable, Hashable {
    /// Exit status, or 128 + signal number when it was killed by a signal.
    public var status: Int32
    /// True when the command was killed by a signal (a crash, or our timeout).
    public var signaled: Bool
    /// True when we killed it for running past its timeout.
    public var timedOut: Bool
    /// stdout then stderr, at most the last 8 KiB of each.
    public var output: String

    public init(status: Int32, signaled: Bool = false, timedOut: Bool = false, output: String = "") {
        self.status = status
        self.signaled = signaled
        self.timedOut = timedOut
        self.output = output
    }

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

/// Runs programs with Foundation's `Process`; output goes to temporary files, not pipes, so a daemon a start
/// script leaves behind cannot hold the agent waiting for end-of-file.
public struct ProcessCommandRunner: CommandRunning {
    public init() {}

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
        let outURL = directory.appendingPathComponent("out")
        let errURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        do {
            process.standardOutput = try FileHandle(forWritingTo: outURL)
            process.standardError = try FileHandle(forWritingTo: errURL)
        } catch {
            return CommandResult(status: 127, output: "cannot open output files: \(error)")
        }
        let box = ProcessBox(process)
        let exited: (status: Int32, signaled: Bool)? = await withCheckedContinuation { continuation in
            process.terminationHandler = { finished in
                continuation.resume(
                    returning: (finished.terminationStatus, finished.terminationReason == .uncaughtSignal))
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(returning: nil)
            }
            box.armTimeout(timeout)
        }
        guard let exited else {
            return CommandResult(status: 127, output: "cannot start \(executable)")
        }
        let timedOut = box.didTimeOut
        let output = Self.tail(outURL) + Self.tail(errURL)
        return CommandResult(
            status: exited.signaled ? 128 + exited.status : exited.status, signaled: exited.signaled,
            timedOut: timedOut, output: output)
    }

    private static func tail(_ url: URL) -> String {
        guard let data = try? Data(contentsOf: url) else { return "" }
        return String(decoding: data.suffix(8192), as: UTF8.self)
    }
}

/// Holds a running `Process` for the timeout timer; the lock guards the timed-out flag.
private final class ProcessBox: @unchecked Sendable {
    private let process: Process
    private let lock = NSLock()
    private var timedOut = false

    init(_ process: Process) { self.process = process }

    var didTimeOut: Bool { lock.withLock { timedOut } }

    func armTimeout(_ timeout: Duration) {
        guard process.isRunning || process.processIdentifier > 0 else { return }
        let pid = process.processIdentifier
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            guard process.isRunning else { return }
            lock.withLock { timedOut = true }
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in
                if process.isRunning { kill(pid, SIGKILL) }
            }
        }
    }
}
