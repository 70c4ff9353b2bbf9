import MemberwiseInit

/// Prints a plan for people (grouped by rack, then wave, like `terraform plan`) or as stable JSON.
@PublicMemberwiseInit
public struct PlanRenderer: Sendable {
    public var colour: Bool = false

    public func text(_ plan: Plan, site: String, commit: String?) -> String {
        var out = ""
        out.reserveCapacity(plan.actions.count * 110)
        text(plan, site: site, commit: commit, to: &out)
        return out
    }

    /// The text plan written line by line to `out` (standard output, say): no whole copy in memory.
    public func text<Output: TextOutputStream>(_ plan: Plan, site: String, commit: String?, to out: inout Output) {
        out.write("rackswarm plan for site '\(site)'" + (commit.map { " at commit \($0)" } ?? "") + "\n")
        if let blocked = plan.blocked { out.write(paint("Nothing will run: \(blocked).", 31) + "\n") }
        if plan.isEmpty && plan.orphaned.isEmpty {
            out.write("\nNo changes. The site matches the desired state.\n")
            return
        }
        // One pass over positions sorted by rack, then wave, then plan order: a node's actions stay together.
        let actions = plan.actions
        let order = actions.indices.sorted {
            let a = actions[$0]
            let b = actions[$1]
            if a.rack != b.rack { return a.rack < b.rack }
            if a.wave != b.wave { return a.wave < b.wave }
            return $0 < $1
        }
        var rack: String?
        var wave = 0
        var node: String?
        for position in order {
            let action = actions[position]
            if action.rack != rack {
                rack = action.rack
                wave = 0
                out.write("\n" + bold("rack \(action.rack)") + "\n")
            }
            if action.wave != wave {
                wave = action.wave
                node = nil
                out.write("  wave \(action.wave)\n")
            }
            if action.node != node {
                node = action.node
                let change = plan.changes[action.node]
                let marker = switch change {
                case .reimage: paint("-/+", 31)
                case .decommission: paint("-", 31)
                case .services, .rekey: paint("~", 33)
                default: paint("+", 32)
                }
                out.write("    \(marker) \(action.node): \(change?.rawValue ?? "change")\n")
            }
            // Written piece by piece: one line per action, 700,000 lines at 100,000 nodes.
            out.write("        ")
            out.write(action.destructive ? paint("!", 31) : " ")
            out.write(" ")
            out.write(Self.paddedKinds[action.kind] ?? action.kind.rawValue)
            out.write(" ")
            out.write(action.detail)
            if action.destructive { out.write(paint(" (destructive)", 31)) }
            if let held = action.held { out.write(paint(" [\(held)]", 33)) }
            out.write("\n")
        }
        if !plan.orphaned.isEmpty {
            out.write("\nOrphaned (not in the repo or absent; pruning is off, so kept): "
                + plan.orphaned.joined(separator: ", ") + "\n")
        }
        let s = plan.summary
        out.write("\n" + bold("Plan: \(s.provision) to provision, \(s.reimage) to reimage (destructive), "
            + "\(s.serviceChanges) service change\(s.serviceChanges == 1 ? "" : "s"), "
            + "\(s.decommission) to decommission.") + "\n")
        out.write("\(s.actions) actions in \(s.waves) wave\(s.waves == 1 ? "" : "s"), "
            + "\(s.destructiveActions) destructive"
            + (s.rekey.map { ", \($0) agent key\($0 == 1 ? "" : "s") to rotate" } ?? "")
            + (s.held.map { ", \($0) held by a maintenance window" } ?? "") + ".\n")
        if let blocked = plan.blocked { out.write(paint("Nothing will run: \(blocked).", 31) + "\n") }
    }

    /// Action kinds padded to one column width, computed once.
    private static let paddedKinds: [PlannedAction.Kind: String] = Dictionary(
        uniqueKeysWithValues: PlannedAction.Kind.allCases.map { kind in
            (kind, kind.rawValue + String(repeating: " ", count: max(0, 17 - kind.rawValue.count)))
        })

    private func paint(_ text: String, _ code: Int) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func bold(_ text: String) -> String {
        colour ? "\u{1B}[1m\(text)\u{1B}[0m" : text
    }
}
