import ReconcilerModel

/// Reads the fields of one YAML mapping. Mappings in a site are small, so lookups scan the pairs linearly,
/// which beats hashing at this size; the pairs are the tree's own array, not a copy.
struct MappingReader {
    let node: YAMLNode
    let context: String
    private let pairs: [YAMLPair]

    init(node: YAMLNode, context: String, pairs: [YAMLPair]) {
        self.node = node
        self.context = context
        self.pairs = pairs
    }

    private func index(_ key: String) -> Int? {
        pairs.firstIndex { pair in
            if case .scalar(let text, _) = pair.key.content { return text == key }
            return false
        }
    }

    /// The value of `key`, or nil when absent.
    func value(_ key: String) -> YAMLNode? { index(key).map { pairs[$0].value } }

    func has(_ key: String) -> Bool { index(key) != nil }

    /// The key node of `key`, for locating errors about the field itself.
    func keyNode(_ key: String) -> YAMLNode? { index(key).map { pairs[$0].key } }

    /// Pairs with a string key not in `known`, in source order.
    func unknownKeys(known: [String]) -> [YAMLPair] {
        pairs.filter { pair in
            if case .scalar(let text, _) = pair.key.content { return !known.contains(text) }
            return false
        }
    }
}
