import Foundation

/// Prints a plan for people (grouped by rack, then wave, like `terraform plan`) or as stable JSON.
public struct PlanRenderer: Sendable {
    public var colour: Bool

    public init(colour: Bool = false) {
        self.colour = colour
    }

    public func text(_ plan: Plan, site: String, commit: String?) -> String {
        var out = "rackswarm plan for site '\(site)'" + (commit.map { " at commit \($0)" } ?? "") + "\n"
        if plan.isEmpty && plan.orphaned.isEmpty {
            return out + "\nNo changes. The site matches the desired state.\n"
        }
        let byRack = Dictionary(grouping: plan.actions, by: \.rack)
        for rack in byRack.keys.sorted() {
            out += "\n" + bold("rack \(rack)") + "\n"
            let byWave = Dictionary(grouping: byRack[rack] ?? [], by: \.wave)
            for wave in byWave.keys.sorted() {
                out += "  wave \(wave)\n"
                var seen: [String] = []
                let actions = byWave[wave] ?? []
                for action in actions where !seen.contains(action.node) { seen.append(action.node) }
                for node in seen {
                    let change = plan.changes[node].map(\.rawValue) ?? "change"
                    let marker = change == "decommission" || change == "reimage" ? paint("-/+", 31) : paint("+", 32)
                    out += "    \(marker) \(node): \(change)\n"
                    for action in actions where action.node == node {
                        let flag = action.destructive ? paint("!", 31) : " "
                        let name = action.kind.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)
                        out += "        \(flag) \(name) \(action.detail)"
                            + (action.destructive ? paint(" (destructive)", 31) : "") + "\n"
                    }
                }
            }
        }
        if !plan.orphaned.isEmpty {
            out += "\nOrphaned (not in the repo or absent; pruning is off, so kept): "
                + plan.orphaned.joined(separator: ", ") + "\n"
        }
        let s = plan.summary
        out += "\n" + bold("Plan: \(s.provision) to provision, \(s.reimage) to reimage (destructive), "
            + "\(s.serviceChanges) service change\(s.serviceChanges == 1 ? "" : "s"), "
            + "\(s.decommission) to decommission.") + "\n"
        out += "\(s.actions) actions in \(s.waves) wave\(s.waves == 1 ? "" : "s"), \(s.destructiveActions) destructive.\n"
        return out
    }

    /// `{"commit", "site", "actions": [{"node","rack","wave","kind","destructive","detail"}], "summary", "orphaned"}`.
    public func json(_ plan: Plan, site: String, commit: String?) throws -> String {
        struct Document: Encodable {
            var commit: String?
            var site: String
            var actions: [PlannedAction]
            var orphaned: [String]
            var summary: Plan.Summary
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let document = Document(commit: commit, site: site, actions: plan.actions, orphaned: plan.orphaned,
                                summary: plan.summary)
        return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
    }

    private func paint(_ text: String, _ code: Int) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func bold(_ text: String) -> String {
        colour ? "\u{1B}[1m\(text)\u{1B}[0m" : text
    }
}
