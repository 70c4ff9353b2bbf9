/// Reads the fields of one YAML mapping. Mappings in a site are small, so lookups scan the pairs linearly,
/// which beats hashing at this size.
struct MappingReader {
    let node: YAMLNode
    let context: String
    private let keys: [String]
    private let pairs: [YAMLPair]

    init(node: YAMLNode, context: String, keys: [String], pairs: [YAMLPair]) {
        self.node = node
        self.context = context
        self.keys = keys
        self.pairs = pairs
    }

    private func index(_ key: String) -> Int? { keys.firstIndex(of: key) }

    /// The value of `key`, or nil when absent.
    func value(_ key: String) -> YAMLNode? { index(key).map { pairs[$0].value } }

    func has(_ key: String) -> Bool { index(key) != nil }

    /// The key node of `key`, for locating errors about the field itself.
    func keyNode(_ key: String) -> YAMLNode? { index(key).map { pairs[$0].key } }

    /// Pairs whose key is not in `known`, in source order.
    func unknownKeys(known: [String]) -> [YAMLPair] {
        zip(keys, pairs).filter { !known.contains($0.0) }.map(\.1)
    }
}
