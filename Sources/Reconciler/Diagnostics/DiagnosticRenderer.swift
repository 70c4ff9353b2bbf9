/// Renders diagnostics the way swiftc does: `file:line:col: error: message`, the source line, a caret.
public struct DiagnosticRenderer: Sendable {
    /// The text of each file, by the path used in its locations.
    public var sources: [String: [Substring]]
    public var colour: Bool

    public init(sources: [String: String], colour: Bool = false) {
        self.sources = sources.mapValues { $0.split(separator: "\n", omittingEmptySubsequences: false) }
        self.colour = colour
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map(render).joined()
    }

    public func render(_ diagnostic: Diagnostic) -> String {
        var out = "\(diagnostic.location): \(paint(diagnostic.severity)): \(Self.clip(diagnostic.message))\n"
        out += excerpt(at: diagnostic.location)
        if let hint = diagnostic.hint {
            out += "\(diagnostic.location): \(paint(.note)): \(Self.clip(hint))\n"
        }
        for related in diagnostic.related {
            out += "\(related.location): \(paint(.note)): \(Self.clip(related.message))\n"
            out += excerpt(at: related.location)
        }
        return out
    }

    /// Characters of a source line shown either side of the column; a longer line is cut with `…` so a hostile
    /// 50 MB line costs one screen line, and the caret still points at the same character.
    public static let excerptRadius = 60
    /// The longest message printed whole (a message quoting a huge value is cut the same way).
    public static let maximumMessageLength = 1000

    private func excerpt(at location: SourceLocation) -> String {
        guard let lines = sources[location.file], location.line >= 1, location.line <= lines.count else { return "" }
        var line = lines[location.line - 1]
        if line.hasSuffix("\r") { line.removeLast() }
        let column = max(1, location.column)
        let radius = Self.excerptRadius
        // Walk at most to the end of the window: never the whole of a huge line.
        let windowStart = max(0, column - 1 - radius)
        let start = line.index(line.startIndex, offsetBy: windowStart, limitedBy: line.endIndex) ?? line.endIndex
        let end = line.index(start, offsetBy: 2 * radius, limitedBy: line.endIndex) ?? line.endIndex
        let leading = start > line.startIndex ? "…" : ""
        let trailing = end < line.endIndex ? "…" : ""
        let shown = line[start..<end]
        // Keep tabs so the caret lines up under the same characters.
        var pad = leading.isEmpty ? "" : " "
        for (index, character) in shown.enumerated() where index < column - 1 - windowStart {
            pad.append(character == "\t" ? "\t" : " ")
        }
        let wanted = column - 1 - windowStart + leading.count
        if pad.count < wanted { pad += String(repeating: " ", count: wanted - pad.count) }
        let caret = colour ? "\u{1B}[1;32m^\u{1B}[0m" : "^"
        return "\(leading)\(shown)\(trailing)\n\(pad)\(caret)\n"
    }

    private static func clip(_ message: String) -> String {
        guard message.utf8.count > maximumMessageLength else { return message }
        return String(message.prefix(maximumMessageLength)) + "… (\(message.utf8.count) bytes)"
    }

    private func paint(_ severity: Diagnostic.Severity) -> String {
        guard colour else { return severity.rawValue }
        switch severity {
        case .error: return "\u{1B}[1;31merror\u{1B}[0m"
        case .warning: return "\u{1B}[1;35mwarning\u{1B}[0m"
        case .note: return "\u{1B}[1;30mnote\u{1B}[0m"
        }
    }
}
