extension PlanRenderer {
    /// `{"actions": [{"destructive","detail","held","kind","node","rack","service","wave"}], "blocked", "commit",
    /// "orphaned", "site", "summary"}`, written piece by piece to `output`: a plan of any size costs one action's
    /// text at a time.
    ///
    /// The bytes are those `JSONEncoder` writes with `.prettyPrinted, .sortedKeys, .withoutEscapingSlashes` (the
    /// golden files hold them): two-space indent, `"key" : value`, keys sorted, absent optionals left out.
    public func json<Output: TextOutputStream>(_ plan: Plan, site: String, commit: String?, to output: inout Output) {
        output.write("{\n  \"actions\" : [")
        for (index, action) in plan.actions.enumerated() {
            output.write(index == 0 ? "\n    {\n" : ",\n    {\n")
            output.write(action.destructive ? "      \"destructive\" : true,\n" : "      \"destructive\" : false,\n")
            output.write("      \"detail\" : ")
            Self.writeJSONString(action.detail, to: &output)
            // The text fields after `detail`, in key order; an absent one is left out. Written one by one: an
            // array of them and an interpolated key per field cost 17% more instructions over 700,000 actions.
            Self.writeField(",\n      \"held\" : ", action.held, to: &output)
            Self.writeField(",\n      \"kind\" : ", action.kind.rawValue, to: &output)
            Self.writeField(",\n      \"node\" : ", action.node, to: &output)
            Self.writeField(",\n      \"rack\" : ", action.rack, to: &output)
            Self.writeField(",\n      \"service\" : ", action.service, to: &output)
            output.write(",\n      \"wave\" : ")
            output.write(String(action.wave))
            output.write("\n    }")
        }
        output.write(plan.actions.isEmpty ? "\n\n  ],\n" : "\n  ],\n")
        if let blocked = plan.blocked {
            output.write("  \"blocked\" : ")
            Self.writeJSONString(blocked, to: &output)
            output.write(",\n")
        }
        if let commit {
            output.write("  \"commit\" : ")
            Self.writeJSONString(commit, to: &output)
            output.write(",\n")
        }
        output.write("  \"orphaned\" : [")
        for (index, node) in plan.orphaned.enumerated() {
            output.write(index == 0 ? "\n    " : ",\n    ")
            Self.writeJSONString(node, to: &output)
        }
        output.write(plan.orphaned.isEmpty ? "\n\n  ],\n  \"site\" : " : "\n  ],\n  \"site\" : ")
        Self.writeJSONString(site, to: &output)
        let s = plan.summary
        output.write("""
            ,
              "summary" : {
                "actions" : \(s.actions),
                "decommission" : \(s.decommission),
                "destructiveActions" : \(s.destructiveActions),\(s.held.map { "\n    \"held\" : \($0)," } ?? "")
                "orphaned" : \(s.orphaned),
                "provision" : \(s.provision),
                "reimage" : \(s.reimage),\(s.rekey.map { "\n    \"rekey\" : \($0)," } ?? "")
                "serviceChanges" : \(s.serviceChanges),
                "waves" : \(s.waves)
              }
            }

            """)
    }

    /// The whole JSON document as one string (small plans and tests; the command streams).
    public func json(_ plan: Plan, site: String, commit: String?) -> String {
        var text = ""
        json(plan, site: site, commit: commit, to: &text)
        return text
    }

    /// `prefix`, then `text` as a JSON string; nothing when `text` is nil.
    private static func writeField<Output: TextOutputStream>(_ prefix: String, _ text: String?,
                                                             to output: inout Output) {
        guard let text else { return }
        output.write(prefix)
        writeJSONString(text, to: &output)
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, `/` and non-ASCII kept.
    static func writeJSONString<Output: TextOutputStream>(_ text: String, to output: inout Output) {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else {
            output.write("\"")
            output.write(text)
            output.write("\"")
            return
        }
        var escaped = "\""
        for scalar in text.unicodeScalars {
            if let short = shortEscapes[scalar] {
                escaped += short
            } else if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        output.write(escaped + "\"")
    }

    /// The two-character escapes JSON has; other control characters are written `\u00XX`.
    private static let shortEscapes: [Unicode.Scalar: String] = [
        "\"": "\\\"", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\u{08}": "\\b", "\u{0C}": "\\f",
    ]
}
