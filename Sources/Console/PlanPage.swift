import Foundation
import Reconciler

/// The plan page: the pending dry-run plan for the current commit, grouped by rack and wave.
struct PlanView: Sendable, Codable {
    struct WaveGroup: Sendable, Codable {
        var wave: Int
        var actions: [PlannedAction]
    }

    struct RackGroup: Sendable, Codable {
        var rack: String
        var suspended: Bool
        var waves: [WaveGroup]
    }

    var commit: CommitInfo?
    var summary: Plan.Summary
    var racks: [RackGroup]
    var orphaned: [String]
    /// Why nothing of the plan runs (an untrusted commit); nil when it may.
    var blocked: String?

    init(_ snapshot: ConsoleSnapshot, plan: Plan) {
        blocked = plan.blocked
        commit = snapshot.site.commit
        summary = plan.summary
        orphaned = plan.orphaned
        var rackOrder: [String] = []
        var seen: Set<String> = []
        for action in plan.actions where seen.insert(action.rack).inserted { rackOrder.append(action.rack) }
        let byRack = Dictionary(grouping: plan.actions, by: \.rack)
        racks = rackOrder.map { rack in
            let waves = Dictionary(grouping: byRack[rack] ?? [], by: \.wave)
            return RackGroup(rack: rack, suspended: snapshot.isSuspended(rack),
                             waves: waves.keys.sorted().map { WaveGroup(wave: $0, actions: waves[$0] ?? []) })
        }
    }

    func html(_ layout: Layout) -> HTML {
        let counts = "\(summary.actions) actions in \(summary.waves) waves: \(summary.provision) to provision, "
            + "\(summary.reimage) to reimage, \(summary.serviceChanges) service changes, "
            + "\(summary.decommission) to decommission; \(summary.destructiveActions) destructive"
            + (summary.rekey.map { "; \($0) agent keys to rotate" } ?? "")
        var body: [HTML] = [
            el("h1", [], text("Pending plan")),
            el("p", [], text(commit.map { "For commit \($0.sha.prefix(12)). " } ?? ""), text(counts)),
        ]
        if let blocked {
            body.append(el("p", [("class", "destructive"), ("id", "blocked")], text("Nothing will run: \(blocked).")))
        }
        if racks.isEmpty { body.append(el("p", [("class", "ok")], text("In sync: nothing to do."))) }
        for rack in racks {
            body.append(el("h2", [("data-rack", rack.rack)], text("rack " + rack.rack),
                           rack.suspended ? el("span", [("class", "badge")], text(" suspended")) : .empty))
            for wave in rack.waves {
                body.append(el("h3", [], text("wave \(wave.wave)")))
                body.append(Layout.table(["node", "action", "detail"], wave.actions.map { action in
                    Layout.row([el("a", [("href", layout.nodeLink(action.node))], text(action.node)),
                                el("span", [("class", action.destructive ? "destructive" : nil)],
                                   text(action.kind.rawValue + (action.destructive ? " ⚠ destructive" : ""))),
                                text(action.detail + (action.held.map { " — \($0)" } ?? ""))],
                               attributes: [("data-destructive", action.destructive ? "true" : "false")])
                }))
            }
        }
        if !orphaned.isEmpty {
            body.append(el("h2", [], text("Orphaned (kept: pruning is off)")))
            body.append(el("p", [], text(orphaned.joined(separator: ", "))))
        }
        return .group(body)
    }
}
