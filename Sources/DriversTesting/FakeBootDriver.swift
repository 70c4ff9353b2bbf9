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
    /// The install nonce of each node whose entry is an install entry, by node name (tokens as a `FileBootDriver`
    /// with `minter` makes them).
    private var nonces: [String: (image: String, nonce: String)] = [:]
    /// Makes the tokens `installToken(node:)` answers; nil answers none.
    public var minter: InstallTokenMinter?

    public init(minter: InstallTokenMinter? = nil) {
        self.minter = minter
    }

    /// Makes every write for `node` throw `error`.
    public func fail(node: String, with error: BootError) {
        failures[node] = error
    }

    @discardableResult
    public func write(_ entry: BootEntry) throws -> [String] {
        calls.append(.write(entry))
        if let error = failures[entry.node] { throw error }
        entries[entry.node] = entry
        if case .install(let install) = entry.mode {
            if nonces[entry.node]?.image != install.imageReference {
                nonces[entry.node] = (install.imageReference, InstallTokenMinter.freshNonce())
            }
        } else {
            nonces[entry.node] = nil
        }
        return [entry.pxeName]
    }

    public func remove(node: String) {
        calls.append(.remove(node))
        entries[node] = nil
        nonces[node] = nil
    }

    public func installToken(node: String) -> String? {
        guard let minter, let nonce = nonces[node]?.nonce else { return nil }
        return minter.token(node: node, nonce: nonce)
    }

    public func writtenEntries() -> [String: WrittenEntry] {
        entries.mapValues(WrittenEntry.init)
    }

    @discardableResult
    public func rewrite(_ entry: BootEntry) throws -> Bool {
        guard let current = entries[entry.node], WrittenEntry(current) == WrittenEntry(entry) else { return false }
        try write(entry)
        return true
    }

    public func prune(keeping nodes: Set<String>) -> [String] {
        calls.append(.prune(nodes))
        let leaving = entries.keys.filter { !nodes.contains($0) }.sorted()
        for node in leaving {
            entries[node] = nil
            nonces[node] = nil
        }
        return leaving
    }
}
