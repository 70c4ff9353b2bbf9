import Drivers

/// A pretend process table: names are alive until stopped or killed; records every stop.
public actor FakeProcessTable: ProcessTable {
    private var alive: [String: [Int32]] = [:]
    private var nextPID: Int32 = 1000
    /// Names passed to `stop`, in order.
    public private(set) var stopped: [String] = []

    public init() {}

    /// Starts a pretend process.
    public func spawn(_ name: String) {
        nextPID += 1
        alive[name, default: []].append(nextPID)
    }

    /// Simulates a process dying on its own.
    public func kill(_ name: String) {
        alive[name] = nil
    }

    public func pids(named name: String) async -> [Int32] {
        alive[name] ?? []
    }

    public func stop(named name: String, grace: Duration) async -> [Int32] {
        stopped.append(name)
        let pids = alive[name] ?? []
        alive[name] = nil
        return pids
    }
}
