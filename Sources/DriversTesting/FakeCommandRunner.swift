import Drivers

/// Runs nothing: records each command and answers from a script; a start script can spawn a fake process.
public actor FakeCommandRunner: CommandRunning {
    /// One command the fake was asked to run.
    public struct Invocation: Sendable, Hashable {
        public var executable: String
        public var arguments: [String]
    }

    /// Every command, in order.
    public private(set) var invocations: [Invocation] = []
    private var results: [String: CommandResult] = [:]
    private var spawns: [String: String] = [:]
    private let processes: FakeProcessTable?

    /// A runner whose `SCRIPT start` calls spawn processes in `processes`.
    public init(processes: FakeProcessTable? = nil) {
        self.processes = processes
    }

    /// Makes `executable` end with `result`.
    public func answer(_ executable: String, with result: CommandResult) {
        results[executable] = result
    }

    /// Makes `executable start` spawn a process called `process`.
    public func spawn(_ process: String, whenStarting executable: String) {
        spawns[executable] = process
    }

    public nonisolated func run(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration
    ) async -> CommandResult {
        await record(executable, arguments)
    }

    private func record(_ executable: String, _ arguments: [String]) async -> CommandResult {
        invocations.append(Invocation(executable: executable, arguments: arguments))
        let result = results[executable] ?? CommandResult(status: 0)
        if result.succeeded, arguments.first == "start", let process = spawns[executable] {
            await processes?.spawn(process)
        }
        return result
    }
}
