import Foundation
import Drivers
import Reconciler

/// The node page: where it is defined, its BMC (scheme and host only), power, image, services, journal.
struct NodeView: Sendable, Codable {
    struct SoftwareRow: Sendable, Codable {
        var name: String
        var rpm: String
        var order: Int
        var script: String?
        var process: String?
        /// `alive`, `not running` (the agent reported drift), `not installed`, or `none` (no process to watch).
        var processState: String
    }

    struct ServiceRow: Sendable, Codable {
        var name: String
        var description: String?
        var installed: Bool
        var drifted: Bool
        var software: [SoftwareRow]
    }

    struct BMCView: Sendable, Codable {
        var scheme: String
        var host: String
    }

    var node: String
    var rack: String
    /// `file:line` of the node's YAML document.
    var location: String
    var labels: [String: String]
    var bmc: BMCView
    /// As observed from the BMC when the source knows it, else from the last power action the journal shows.
    var power: String
    var wantedImage: String
    var installedImage: String?
    var activity: NodeActivity
    var install: InstallProgress?
    /// What the install environment found on the node, as it last reported.
    var hardware: HardwareRecord?
    var services: [ServiceRow]
    var journal: [JournalEntry]
    var suspendedRack: Bool

    init(_ snapshot: ConsoleSnapshot, node: Node, observedPower: String?, hardware: HardwareRecord? = nil) {
        self.hardware = hardware
        self.node = node.name
        rack = node.rack.value
        location = "\(node.location.file):\(node.location.line)"
        labels = node.labels
        let endpoint = node.bmc.endpoint.value
        bmc = BMCView(scheme: endpoint.scheme.rawValue, host: endpoint.host)
        let journal = snapshot.nodes[node.name]?.journal ?? []
        self.journal = journal
        power = observedPower ?? Self.powerFromJournal(journal)
        wantedImage = snapshot.wantedImage(node)
        let record = snapshot.record(node.name)
        installedImage = record?.status.image
        activity = snapshot.activity(node.name)
        install = snapshot.install(node.name)
        let installed = Set(record?.status.services ?? [])
        let drifted = Set(record?.status.drifted ?? [])
        services = node.serviceNames.map { name in
            let service = snapshot.desired.service(named: name)
            return ServiceRow(
                name: name, description: service?.description, installed: installed.contains(name),
                drifted: drifted.contains(name),
                software: (service?.software ?? []).map { software in
                    let state: String
                    if software.process == nil {
                        state = "none"
                    } else if !installed.contains(name) {
                        state = "not installed"
                    } else {
                        state = drifted.contains(name) ? "not running" : "alive"
                    }
                    return SoftwareRow(name: software.name, rpm: software.rpm, order: software.order,
                                       script: software.script, process: software.process, processState: state)
                })
        }
        suspendedRack = snapshot.isSuspended(node.rack.value)
    }

    /// What the last power step that ran left the node in, e.g. `on (after powerCycle at …)`.
    static func powerFromJournal(_ journal: [JournalEntry]) -> String {
        let powerKinds: [PlannedAction.Kind: String] = [.powerCycle: "on", .powerOff: "off", .bootLocal: "on"]
        guard let last = journal.last(where: { powerKinds[$0.action.kind] != nil && $0.state == .finished }),
            let state = powerKinds[last.action.kind]
        else { return "unknown" }
        return "\(state) (after \(last.action.kind.rawValue) at \(Units.time(last.finishedAt ?? last.plannedAt)))"
    }

    func html(_ layout: Layout) -> HTML {
        let facts: [(String, HTML)] = [
            ("rack", text(rack + (suspendedRack ? " (suspended)" : ""))),
            ("defined at", el("code", [], text(location))),
            ("labels", labels.isEmpty ? text("—") : .group(labels.keys.sorted().map { key in
                el("span", [("class", "badge label")], text("\(key)=\(labels[key] ?? "")"))
            })),
            ("BMC", el("code", [], text("\(bmc.scheme)://\(bmc.host)"))),
            ("power", text(power)),
            ("phase", el("span", [("class", "pill " + Layout.phaseClass(activity.phase)),
                                  ("data-phase", activity.phase.rawValue)], text(Layout.phaseLabel(activity)))),
            ("image", text(imageText)),
            ("install report", install.map { progress in
                text("\(progress.report.phase.rawValue) \(progress.report.image) "
                     + "\(Units.percent(progress.report.percent)), \(Units.bytes(progress.report.downloaded)) "
                     + "down (\(Units.bytes(progress.report.fromSeed)) from the seed), "
                     + "\(Units.bytes(progress.report.uploaded)) up, at \(Units.time(progress.updatedAt))"
                     + (progress.receivedBy.map { ", received by reconciler \($0)" } ?? "")
                     + (progress.report.error.map { "; error: \($0)" } ?? ""))
            } ?? text("none")),
            ("hardware", hardware.map { record in
                .group(record.inventory.lines.map { el("div", [], text($0)) }
                       + [el("div", [("class", "muted")], text("reported \(Units.time(record.updatedAt))"))])
            } ?? text("not reported yet")),
            ("last error", activity.lastError.map { el("span", [("class", "error")], text($0)) } ?? text("—")),
        ]
        let factRows = facts.map { name, value in el("tr", [], el("th", [], text(name)), el("td", [], value)) }
        let serviceSections = services.map { service in
            el("section", [("class", "service")],
               el("h3", [], text(service.name), text(" "),
                  el("span", [("class", service.drifted ? "badge drift" : "badge")],
                     text(service.drifted ? "drift" : service.installed ? "installed" : "not installed"))),
               service.description.map { el("p", [("class", "description")], text($0)) } ?? .empty,
               Layout.table(
                   ["order", "software", "RPM", "start script", "process", "process state"],
                   service.software.map { row in
                       Layout.row([text(String(row.order)), text(row.name), el("code", [], text(row.rpm)),
                                   text(row.script ?? "—"), text(row.process ?? "—"),
                                   el("span", [("class", row.processState == "not running" ? "drift"
                                                 : row.processState == "alive" ? "ok" : "muted")],
                                      text(row.processState))])
                   }))
        }
        let journalRows = journal.map { entry in
            Layout.row([
                text(String(entry.id)), text(String(entry.action.wave)),
                el("span", [("class", entry.action.destructive ? "destructive" : nil)],
                   text(entry.action.kind.rawValue + (entry.action.destructive ? " ⚠" : ""))),
                text(entry.action.detail), text(entry.state.rawValue), Layout.time(entry.plannedAt),
                Layout.time(entry.startedAt), Layout.time(entry.finishedAt),
                entry.error.map { el("span", [("class", "error")], text($0)) } ?? text(""),
            ], attributes: [("data-state", entry.state.rawValue)])
        }
        return .group([
            el("h1", [], text("Node " + node)),
            el("table", [("class", "facts")], children: factRows),
            el("h2", [], text("Services")),
            services.isEmpty ? el("p", [("class", "muted")], text("No services.")) : .group(serviceSections),
            el("h2", [], text("Action journal")),
            journal.isEmpty ? el("p", [("class", "muted")], text("No actions journaled."))
                : Layout.table(["#", "wave", "action", "detail", "state", "planned", "started", "finished", "error"],
                               journalRows, class: "journal"),
        ])
    }

    var imageText: String {
        guard let installedImage else { return "\(wantedImage) (not installed yet)" }
        return installedImage == wantedImage ? installedImage : "\(installedImage) → \(wantedImage)"
    }
}
