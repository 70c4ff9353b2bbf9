/// Reads the fields of one YAML mapping, remembering which keys were used so unknown ones can be reported.
struct MappingReader {
    let node: YAMLNode
    let context: String
    private(set) var entries: [String: YAMLPair]
    private var keyOrder: [String]

    init(node: YAMLNode, context: String, entries: [String: YAMLPair], keyOrder: [String]) {
        self.node = node
        self.context = context
        self.entries = entries
        self.keyOrder = keyOrder
    }

    /// The value of `key`, or nil when absent.
    func value(_ key: String) -> YAMLNode? { entries[key]?.value }

    func has(_ key: String) -> Bool { entries[key] != nil }

    /// The key node of `key`, for locating errors about the field itself.
    func keyNode(_ key: String) -> YAMLNode? { entries[key]?.key }

    /// Keys present in the mapping but not in `known`, in source order.
    func unknownKeys(known: Set<String>) -> [YAMLPair] {
        keyOrder.filter { !known.contains($0) }.compactMap { entries[$0] }
    }
}
