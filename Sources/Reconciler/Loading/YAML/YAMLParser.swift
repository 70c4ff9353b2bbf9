import CYAML
import MemberwiseInit
import ReconcilerModel

/// Parses YAML bytes into `YAMLDocument`s with libyaml's event API.
///
/// Anchors, aliases and merge keys (`<<: *defaults`) are resolved while building the tree. Duplicate keys in
/// one mapping and undefined aliases become diagnostics; a syntax error ends the stream with one diagnostic.
@PublicMemberwiseInit
public struct YAMLParser {
    public let file: String

    public func parse(_ bytes: [UInt8]) -> (documents: [YAMLDocument], diagnostics: [Diagnostic]) {
        var builder = TreeBuilder(file: file)
        bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                builder.diagnostics.append(.error(at: builder.location(1, 1), "cannot initialise the YAML parser"))
                return
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    builder.syntaxError(parser)
                    return
                }
                let done = event.type == YAML_STREAM_END_EVENT
                builder.handle(&event)
                yaml_event_delete(&event)
                if done { return }
            }
        }
        return (builder.documents, builder.diagnostics)
    }
}

/// Turns libyaml events into nodes. Internal to the parser.
///
/// Finished child nodes wait on one flat `values` stack; a collection's end event moves its children off it
/// into the collection's array, so a child is neither copied nor destroyed on the way.
private struct TreeBuilder {
    struct Frame {
        var start: YAMLNode
        var anchor: String?
        /// Index in `values` of the collection's first child.
        var base: Int
        var isMapping: Bool
    }

    let file: String
    var documents: [YAMLDocument] = []
    var diagnostics: [Diagnostic] = []
    var frames: [Frame] = []
    let values = ChildStack()
    var anchors: [String: YAMLNode] = [:]
    var documentLine: Int32 = 1
    var documentRoot: YAMLNode?

    let fileID: SourceFiles.ID

    init(file: String) {
        self.file = file
        fileID = SourceFiles.intern(file)
    }

    func location(_ line: Int32, _ column: Int32) -> SourceLocation {
        SourceLocation(fileID: fileID, line: line, column: column)
    }

    mutating func syntaxError(_ parser: yaml_parser_t) {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        let mark = parser.problem_mark
        var message = "invalid YAML: \(problem)"
        if let context = parser.context.map({ String(cString: $0) }) {
            message += " (\(context) at line \(parser.context_mark.line + 1))"
        }
        diagnostics.append(.error(at: location(Int32(mark.line) + 1, Int32(mark.column) + 1), message))
    }

    private static func tag(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    mutating func handle(_ event: inout yaml_event_t) {
        let line = Int32(event.start_mark.line) + 1
        let column = Int32(event.start_mark.column) + 1
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(
                decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let style: YAMLNode.ScalarStyle =
                switch scalar.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE, YAML_DOUBLE_QUOTED_SCALAR_STYLE: .quoted
                case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE: .block
                default: .plain
                }
            let node = YAMLNode(.scalar(text, style), line: line, column: column, tag: Self.tag(scalar.tag))
            if let anchor = scalar.anchor { anchors[String(cString: anchor)] = node }
            add(node)
        case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let tag = isMapping ? Self.tag(event.data.mapping_start.tag) : Self.tag(event.data.sequence_start.tag)
            let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
            let start = YAMLNode(isMapping ? .mapping([]) : .sequence([]), line: line, column: column, tag: tag)
            frames.append(Frame(start: start, anchor: anchor.map { String(cString: $0) }, base: values.count,
                                isMapping: isMapping))
        case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
            guard let frame = frames.popLast() else { return }
            var node = frame.start
            if frame.isMapping {
                node.content = .mapping(resolveMappingEntries(values.popPairs(from: frame.base)))
            } else {
                node.content = .sequence(values.popAll(from: frame.base))
            }
            if let anchor = frame.anchor { anchors[anchor] = node }
            add(node)
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            if let target = anchors[name] {
                add(target)
            } else {
                diagnostics.append(.error(at: location(line, column), "undefined alias '*\(name)'",
                                          hint: "define it first with '&\(name)' on an earlier value"))
                add(YAMLNode(.scalar("", .plain), line: line, column: column, tag: YAMLNode.poisonTag))
            }
        case YAML_DOCUMENT_START_EVENT:
            documentLine = line
            documentRoot = nil
            anchors.removeAll(keepingCapacity: true)
        case YAML_DOCUMENT_END_EVENT:
            documents.append(YAMLDocument(root: documentRoot, line: documentLine))
        default:
            break
        }
    }

    private mutating func add(_ node: consuming YAMLNode) {
        if frames.isEmpty {
            documentRoot = node
        } else {
            values.append(node)
        }
    }

    /// Applies merge keys and reports duplicate keys. Explicit keys win over merged ones; earlier merge
    /// sources win over later ones.
    private mutating func resolveMappingEntries(_ pairs: [YAMLPair]) -> [YAMLPair] {
        var hasMerge = false
        // Small mappings (the common case) are checked for duplicates pairwise, without hashing.
        if pairs.count <= 16 {
            var duplicate = false
            for i in pairs.indices {
                guard let key = pairs[i].key.scalar else { continue }
                if key == "<<" { hasMerge = true }
                for j in 0..<i where pairs[j].key.scalar == key {
                    duplicate = true
                    break
                }
            }
            if !duplicate && !hasMerge { return pairs }
        }
        var explicit: [YAMLPair] = []
        explicit.reserveCapacity(pairs.count)
        var merged: [YAMLPair] = []
        var seen: [String: YAMLNode] = [:]
        seen.reserveCapacity(pairs.count)
        for pair in pairs {
            if case .scalar("<<", .plain) = pair.key.content {
                merged += mergeSources(pair.value)
                continue
            }
            if let key = pair.key.scalar {
                if let first = seen[key] {
                    diagnostics.append(.error(
                        at: location(pair.key.line, pair.key.column), "duplicate key '\(key)'",
                        hint: "remove one of the two, or rename it",
                        related: [.init(location: location(first.line, first.column), message: "first '\(key)' is here")]))
                    continue
                }
                seen[key] = pair.key
            }
            explicit.append(pair)
        }
        guard !merged.isEmpty else { return explicit }
        for pair in merged {
            guard let key = pair.key.scalar, seen[key] == nil else { continue }
            seen[key] = pair.key
            explicit.append(pair)
        }
        return explicit
    }

    private mutating func mergeSources(_ value: YAMLNode) -> [YAMLPair] {
        switch value.content {
        case .mapping(let pairs):
            return pairs
        case .sequence(let items):
            var result: [YAMLPair] = []
            for item in items {
                if case .mapping(let pairs) = item.content {
                    result += pairs
                } else {
                    diagnostics.append(.error(at: location(item.line, item.column),
                                              "a merge key '<<' takes a mapping or a list of mappings"))
                }
            }
            return result
        case .scalar:
            if value.tag == YAMLNode.poisonTag { return [] }
            diagnostics.append(.error(at: location(value.line, value.column),
                                      "a merge key '<<' takes a mapping or a list of mappings"))
            return []
        }
    }
}

/// A stack of finished nodes whose tail a collection's end moves out in one go: the nodes are moved, not copied
/// and then destroyed (which cost a retain and a release per string of every node).
private final class ChildStack {
    private var storage: UnsafeMutablePointer<YAMLNode>
    private var capacity: Int
    private(set) var count = 0

    init() {
        capacity = 64
        storage = .allocate(capacity: capacity)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    func append(_ node: consuming YAMLNode) {
        if count == capacity {
            let grown = UnsafeMutablePointer<YAMLNode>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: storage, count: count)
            storage.deallocate()
            storage = grown
            capacity *= 2
        }
        (storage + count).initialize(to: node)
        count += 1
    }

    /// Moves the nodes from `base` to the top into an array, in order.
    func popAll(from base: Int) -> [YAMLNode] {
        let moved = count - base
        guard moved > 0 else { return [] }
        let source = storage + base
        count = base
        return [YAMLNode](unsafeUninitializedCapacity: moved) { buffer, initialized in
            guard let target = buffer.baseAddress else { return }
            target.moveInitialize(from: source, count: moved)
            initialized = moved
        }
    }

    /// Moves the nodes from `base` to the top into key-value pairs, in order; an odd last node is dropped.
    func popPairs(from base: Int) -> [YAMLPair] {
        let moved = count - base
        guard moved > 0 else { return [] }
        let source = storage + base
        count = base
        if moved % 2 == 1 { (source + moved - 1).deinitialize(count: 1) }
        return [YAMLPair](unsafeUninitializedCapacity: moved / 2) { buffer, initialized in
            guard let target = buffer.baseAddress else { return }
            for pair in 0..<(moved / 2) {
                (target + pair).initialize(to: YAMLPair(key: (source + 2 * pair).move(),
                                                        value: (source + 2 * pair + 1).move()))
            }
            initialized = moved / 2
        }
    }
}
