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
        var out = "\(diagnostic.location): \(paint(diagnostic.severity)): \(diagnostic.message)\n"
        out += excerpt(at: diagnostic.location)
        if let hint = diagnostic.hint {
            out += "\(diagnostic.location): \(paint(.note)): \(hint)\n"
        }
        for related in diagnostic.related {
            out += "\(related.location): \(paint(.note)): \(related.message)\n"
            out += excerpt(at: related.location)
        }
        return out
    }

    private func excerpt(at location: SourceLocation) -> String {
        guard let lines = sources[location.file], location.line >= 1, location.line <= lines.count else { return "" }
        var line = String(lines[location.line - 1])
        if line.hasSuffix("\r") { line.removeLast() }
        // Keep tabs so the caret lines up under the same characters.
        var pad = ""
        for (index, character) in line.enumerated() where index < location.column - 1 {
            pad.append(character == "\t" ? "\t" : " ")
        }
        if pad.count < location.column - 1 {
            pad += String(repeating: " ", count: location.column - 1 - pad.count)
        }
        let caret = colour ? "\u{1B}[1;32m^\u{1B}[0m" : "^"
        return "\(line)\n\(pad)\(caret)\n"
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
