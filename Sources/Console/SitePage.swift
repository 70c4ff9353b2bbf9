import Foundation
import Drivers
import Reconciler

/// The site page: one tile per rack, one cell per node coloured by phase, the commit, counts and the ETA.
struct SiteView: Sendable, Codable {
    struct Cell: Sendable, Codable {
        var node: String
        var phase: NodeActivity.Phase
        var percent: Double?
        var lastError: String?
    }

    struct RackTile: Sendable, Codable {
        var name: String
        var suspension: RackSuspension?
        /// The reconciler holding the rack's lease, on a shared store ("" while nobody holds it); nil otherwise.
        var holder: String?
        /// The address the holder serves the rack's nodes at (boot files, reports, seed), on a shared store.
        var server: String? = nil
        var nodes: [Cell]
    }

    struct Convergence: Sendable, Codable {
        /// Seconds until every node has its image at the measured rate; nil when it cannot be estimated.
        var etaSeconds: Double?
        var remainingBytes: Int64?
        var rateBytesPerSecond: Double?
        var nodesToInstall: Int
        var method: String
    }

    var site: String
    var commit: CommitInfo?
    var racks: [RackTile]
    /// Nodes per phase (every phase, zeros included).
    var counts: [String: Int]
    var convergence: Convergence
    var passRequest: PassRequest?
    /// Why the newest commit drives nothing; nil when it may.
    var blocked: String?
    /// The site's maintenance windows now: `open until …`, `next opens …`, or nil when none is set.
    var window: String?

    init(_ snapshot: ConsoleSnapshot, samples: [InstallSample]) {
        blocked = snapshot.site.blocked
        let windows = snapshot.desired.site.windows
        if !windows.windows.isEmpty {
            if let until = windows.openUntil(snapshot.now) {
                window = "open now, until " + MaintenanceGate.format(until)
            } else {
                window = windows.nextOpening(after: snapshot.now)
                    .map { "closed; next opens " + MaintenanceGate.format($0) } ?? "closed; none opens within a year"
            }
        }
        site = snapshot.desired.site.name
        commit = snapshot.site.commit
        // By index: a node is a large value, and grouping copies of them cost more than the cells.
        let nodes = snapshot.desired.nodes
        var byRack: [String: [Int]] = [:]
        for index in snapshot.sortedNodeIndices { byRack[nodes[index].rack.value, default: []].append(index) }
        racks = snapshot.rackNames.map { rack in
            RackTile(
                name: rack, suspension: snapshot.suspensions.first { $0.rack == rack },
                holder: snapshot.holders.map { $0[rack] ?? "" }, server: snapshot.servers?[rack],
                nodes: (byRack[rack] ?? []).map { index in
                    let name = nodes[index].name
                    let activity = snapshot.activity(name)
                    return Cell(node: name, phase: activity.phase,
                                percent: activity.phase == .downloading ? activity.percent : nil,
                                lastError: activity.lastError)
                })
        }
        var counts = Dictionary(uniqueKeysWithValues: NodeActivity.Phase.allCases.map { ($0.rawValue, 0) })
        for tile in racks { for cell in tile.nodes { counts[cell.phase.rawValue, default: 0] += 1 } }
        self.counts = counts
        let statistics = SwarmStatistics(snapshot: snapshot, samples: samples)
        convergence = Convergence(
            etaSeconds: statistics.eta, remainingBytes: statistics.remainingBytes,
            rateBytesPerSecond: statistics.rate, nodesToInstall: statistics.nodesToInstall,
            method: "remaining image bytes of the nodes still to install, divided by the bytes per second all "
                + "nodes downloaded together over the last \(Int(SwarmStatistics.window)) s of install reports")
        passRequest = snapshot.passRequest
    }

    func html(_ layout: Layout) -> HTML {
        var summary: [HTML] = []
        if let commit {
            summary.append(el("div", [("class", "commit")],
                              el("span", [("class", "label")], text("commit")),
                              el("code", [], text(String(commit.sha.prefix(12)))), text(" "),
                              el("span", [("class", "message")], text(commit.message ?? "")), text(" — "),
                              el("span", [("class", "author")], text(commit.author ?? "unknown author"))))
        } else {
            summary.append(el("div", [], el("span", [("class", "label")], text("commit")),
                              text("not a git repo")))
        }
        if let blocked {
            summary.append(el("div", [("id", "blocked"), ("class", "destructive")],
                              el("span", [("class", "label")], text("nothing runs")), text(blocked)))
        }
        if let window {
            summary.append(el("div", [("id", "window")],
                              el("span", [("class", "label")], text("maintenance window")), text(window)))
        }
        summary.append(el("div", [("id", "eta")], el("span", [("class", "label")], text("ETA to convergence")),
                          text(etaText), el("span", [("class", "label"), ("title", convergence.method)],
                                            text(etaDetail))))
        summary.append(el("div", [], el("span", [("class", "label")], text("reconcile pass")),
                          passRequest.map { request in
                              text("requested by \(request.actor) at \(Units.time(request.at))")
                          } ?? (layout.actionsEnabled ? layout.actionButton("Request a pass now", post: "/api/v1/pass")
                                : text("none pending"))))
        let legend = el("div", [("class", "legend"), ("id", "counts")], children: NodeActivity.Phase.allCases.map {
            phase in
            el("span", [("class", "count"), ("data-phase", phase.rawValue)],
               el("i", [("class", "swatch " + Layout.phaseClass(phase))]),
               text("\(phase.rawValue) \(counts[phase.rawValue] ?? 0)"))
        })
        let tiles = racks.map { tile in
            el("section", [("class", tile.suspension == nil ? "rack" : "rack suspended"), ("data-rack", tile.name)],
               el("h2", [],
                  el("span", [], text("rack " + tile.name)),
                  tile.suspension == nil
                    ? layout.actionButton("suspend", post: "/api/v1/racks/\(Self.pathSegment(tile.name))/suspend",
                                          confirm: "Suspend rack \(tile.name)? No new action starts on its nodes.")
                    : layout.actionButton("resume", post: "/api/v1/racks/\(Self.pathSegment(tile.name))/resume")),
               tile.suspension.map { suspension in
                   el("p", [("class", "badge")],
                      text("suspended by \(suspension.actor) since \(Units.time(suspension.since))"))
               } ?? .empty,
               tile.holder.map { holder in
                   el("p", [("class", "holder")],
                      text(holder.isEmpty ? "held by no reconciler"
                           : "held by reconciler \(holder)" + (tile.server.map { " at \($0)" } ?? "")))
               } ?? .empty,
               el("div", [("class", "cells")], Self.cells(tile.nodes, layout)))
        }
        return .group([
            el("h1", [], text("Site " + site)),
            el("div", [("class", "summary")], children: summary),
            legend,
            el("div", [("class", "racks")], children: tiles),
        ])
    }

    /// A rack's cells, one link per node, written into one buffer.
    static func cells(_ cells: [Cell], _ layout: Layout) -> HTML {
        var out = HTMLBuffer(capacity: cells.count * 256)
        for cell in cells {
            out.open("a", [("class", cellClasses[cell.phase]), ("data-node", cell.node),
                           ("data-phase", cell.phase.rawValue), ("href", layout.nodeLink(cell.node)),
                           ("title", cell.lastError.map { "\(cell.node): \($0)" } ?? cell.node)])
            if let percent = cell.percent {
                out.element("span", [("class", "bar"), ("style", "width: \(Int(percent))%")], text: "")
            }
            out.element("span", [("class", "name")], text: cell.node)
            out.element("span", [("class", "phase")],
                        text: cell.percent.map { "\(Units.percent($0))" } ?? cell.phase.rawValue)
            out.close("a")
        }
        return out.html
    }

    /// A cell's class by phase, made once.
    private static let cellClasses = Dictionary(
        uniqueKeysWithValues: NodeActivity.Phase.allCases.map { ($0, "cell " + Layout.phaseClass($0)) })

    var etaText: String {
        if convergence.nodesToInstall == 0 { return "converged (every node has its image)" }
        guard let eta = convergence.etaSeconds else { return "unknown" }
        return Units.duration(eta)
    }

    var etaDetail: String {
        let nodes = "\(convergence.nodesToInstall) node\(convergence.nodesToInstall == 1 ? "" : "s") to install"
        guard let remaining = convergence.remainingBytes else { return "\(nodes); image size not known yet" }
        guard let rate = convergence.rateBytesPerSecond else {
            return "\(nodes), \(Units.bytes(remaining)) left; no download measured in the last "
                + "\(Int(SwarmStatistics.window)) s"
        }
        return "\(nodes), \(Units.bytes(remaining)) left at \(Units.rate(rate))"
    }

    static func pathSegment(_ value: String) -> String { Layout.pathSegment(value) }
}
