import Drivers

/// Writes nothing: records each boot call and keeps the entries in memory; a node can be made to fail.
public actor FakeBootDriver: BootDriver {
    /// One call the fake got.
    public enum Call: Sendable, Hashable {
        case write(BootEntry)
        case remove(String)
        case prune(Set<String>)
    }

    /// Every call, in order.
    public private(set) var calls: [Call] = []
    /// The entry each node has now.
    public private(set) var entries: [String: BootEntry] = [:]
    private var failures: [String: BootError] = [:]

    public init() {}

    /// Makes every write for `node` throw `error`.
    public func fail(node: String, with error: BootError) {
        failures[node] = error
    }

    @discardableResult
    public func write(_ entry: BootEntry) throws -> [String] {
        calls.append(.write(entry))
        if let error = failures[entry.node] { throw error }
        entries[entry.node] = entry
        return [entry.pxeName]
    }

    public func remove(node: String) {
        calls.append(.remove(node))
        entries[node] = nil
    }

    public func prune(keeping nodes: Set<String>) -> [String] {
        calls.append(.prune(nodes))
        let leaving = entries.keys.filter { !nodes.contains($0) }.sorted()
        for node in leaving { entries[node] = nil }
        return leaving
    }
}
