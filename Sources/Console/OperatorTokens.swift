import Foundation

/// The tokens that may run console actions, read from a token file.
///
/// One token per line: `NAME:TOKEN` names the operator the audit records, a bare `TOKEN` is recorded as
/// `operator`. A token never contains `:` (the separator), so a line with two is an error, and so is a line whose
/// part before `:` is not a name: a bare token with a colon is refused, never silently cut into NAME:TOKEN.
/// Blank lines and lines starting with `#` are skipped. Tokens are compared in constant time.
public struct OperatorTokens: Sendable {
    struct Entry: Sendable {
        var actor: String
        var token: [UInt8]
    }

    private var entries: [Entry]

    /// Reads `path`; a missing, unreadable or empty file, or a malformed line, is an error naming the file and line.
    public init(contentsOfFile path: String) throws(OperatorTokensError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw OperatorTokensError("\(path): error: cannot read the token file: \(error.localizedDescription)")
        }
        try self.init(text: text, file: path)
    }

    init(text: String, file: String) throws(OperatorTokensError) {
        var entries: [Entry] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            var actor = "operator"
            var token = line
            guard line.firstIndex(of: ":") == line.lastIndex(of: ":") else {
                throw OperatorTokensError("\(file):\(index + 1): error: more than one ':'; a token may not "
                    + "contain ':' (write NAME:TOKEN, or a bare TOKEN without ':')")
            }
            if let colon = line.firstIndex(of: ":") {
                actor = line[..<colon].trimmingCharacters(in: .whitespaces)
                token = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            guard !actor.isEmpty, actor.count <= 64,
                  actor.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.@".contains($0)) })
            else {
                throw OperatorTokensError("\(file):\(index + 1): error: the operator name before ':' must be "
                    + "1 to 64 letters, digits, '-', '_', '.' or '@' (a bare token may not contain ':')")
            }
            guard token.count >= 16, !token.contains(where: \.isWhitespace) else {
                throw OperatorTokensError("\(file):\(index + 1): error: a token must be at least 16 characters "
                    + "without spaces")
            }
            entries.append(Entry(actor: actor, token: Array(token.utf8)))
        }
        guard !entries.isEmpty else { throw OperatorTokensError("\(file): error: the token file holds no token") }
        self.entries = entries
    }

    /// The operator a presented token belongs to; nil when it matches none.
    public func actor(for presented: String) -> String? {
        let bytes = Array(presented.utf8)
        var found: String?
        for entry in entries where Self.constantTimeEqual(entry.token, bytes) && found == nil { found = entry.actor }
        return found
    }

    /// The operator an `Authorization: Bearer TOKEN` header value belongs to.
    public func actor(authorization: String?) -> String? {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return nil }
        return actor(for: String(authorization.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

/// A token file that cannot be used, with the file (and line) in the message.
public struct OperatorTokensError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
