import MemberwiseInit
import ReconcilerModel

/// A YAML value with the line and column it started at; the loader's own small tree over libyaml events.
public struct YAMLNode: Sendable {
    public enum ScalarStyle: UInt8, Sendable {
        case plain
        case quoted
        case block
    }

    public enum Content: Sendable {
        case scalar(String, ScalarStyle)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    public var content: Content
    /// 1-based line.
    public var line: Int32
    /// 1-based column.
    public var column: Int32
    /// An explicit tag (`!!str`, `!custom`), if one was written.
    public var tag: String?

    public init(_ content: Content, line: Int32, column: Int32, tag: String? = nil) {
        self.content = content
        self.line = line
        self.column = column
        self.tag = tag
    }

    /// Tag of a placeholder for a value that already has a diagnostic (an undefined alias); decoding it reports
    /// nothing more, so one mistake gives one error.
    public static let poisonTag = "!rackswarm/already-reported"

    /// True for `null`, `~`, `Null`, `NULL` or an empty plain scalar.
    public var isNull: Bool {
        guard case .scalar(let text, .plain) = content, tag == nil else { return false }
        return text.isEmpty || text == "null" || text == "~" || text == "Null" || text == "NULL"
    }

    /// The text of a scalar, or nil for a sequence or mapping.
    public var scalar: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    /// A short name of this node's shape, for "expected X, found Y" messages.
    public var shapeName: String {
        switch content {
        case .scalar(let text, let style):
            if isNull { return "null" }
            if style != .plain { return "a string" }
            if Int(text) != nil { return "an integer" }
            if ["true", "false", "yes", "no", "on", "off"].contains(text.lowercased()) { return "a boolean" }
            return "a string"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// One `key: value` entry of a mapping.
@PublicMemberwiseInit
public struct YAMLPair: Sendable {
    public var key: YAMLNode
    public var value: YAMLNode
}

/// One document of a YAML stream.
public struct YAMLDocument: Sendable {
    public var root: YAMLNode?
    /// Line where `---` (or the first content) started.
    public var line: Int32
}
