import Foundation
import Reconciler

/// The services page, the paper's software DB view: each service, its software, the nodes running it, drift.
struct ServicesView: Sendable, Codable {
    struct ServiceView: Sendable, Codable {
        var name: String
        var description: String?
        /// `file:line` of the service's YAML document.
        var location: String
        var software: [Software]
        /// Nodes whose YAML asks for the service.
        var wanted: [String]
        /// Nodes whose agent reported it installed and verified.
        var running: [String]
        /// Nodes where it is installed but its process is not running or its RPMs are gone.
        var drifted: [String]
        /// Wanted and not installed yet.
        var missing: [String]
        /// Installed on a node whose YAML no longer asks for it.
        var extra: [String]
    }

    var services: [ServiceView]

    init(_ snapshot: ConsoleSnapshot) {
        let records = snapshot.records
        services = snapshot.desired.services.sorted { $0.name < $1.name }.map { service in
            let wanted = snapshot.sortedNodes.filter { $0.state == .present && $0.serviceNames.contains(service.name) }
                .map(\.name)
            let running = records.filter { $0.status.services.contains(service.name) }.map(\.name)
                .sorted()
            let drifted = records.filter { $0.status.drifted.contains(service.name) }.map(\.name)
                .sorted()
            return ServiceView(
                name: service.name, description: service.description,
                location: "\(service.location.file):\(service.location.line)", software: service.software,
                wanted: wanted, running: running, drifted: drifted,
                missing: wanted.filter { !running.contains($0) },
                extra: running.filter { !wanted.contains($0) })
        }
    }

    func html(_ layout: Layout) -> HTML {
        .group([el("h1", [], text("Services"))] + services.map { service in
            func nodes(_ names: [String], class className: String? = nil) -> HTML {
                names.isEmpty ? text("—") : .group(names.enumerated().map { index, name in
                    .group([index > 0 ? text(", ") : .empty,
                            el("a", [("href", layout.nodeLink(name)), ("class", className)], text(name))])
                })
            }
            return el("section", [("class", "service"), ("data-service", service.name)],
                      el("h2", [], text(service.name)),
                      el("p", [], el("span", [("class", "description")], text(service.description ?? "")),
                         text(" "), el("code", [("class", "muted")], text(service.location))),
                      Layout.table(["order", "software", "RPM", "start script", "process"],
                                   service.software.map { software in
                                       Layout.row([text(String(software.order)), text(software.name),
                                                   el("code", [], text(software.rpm)), text(software.script ?? "—"),
                                                   text(software.process ?? "—")])
                                   }),
                      el("table", [("class", "facts")],
                         el("tr", [], el("th", [], text("wanted on")), el("td", [], nodes(service.wanted))),
                         el("tr", [], el("th", [], text("running on")), el("td", [], nodes(service.running))),
                         el("tr", [], el("th", [], text("drift")),
                            el("td", [], nodes(service.drifted, class: "drift"))),
                         el("tr", [], el("th", [], text("not installed yet")), el("td", [], nodes(service.missing))),
                         el("tr", [], el("th", [], text("installed, not wanted")),
                            el("td", [], nodes(service.extra)))))
        })
    }
}
