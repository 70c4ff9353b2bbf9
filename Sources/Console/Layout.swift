import Foundation
import Reconciler

/// The page shell every console page shares: head, navigation, the main section live updates replace.
struct Layout {
    enum Tab: String, CaseIterable {
        case site = "Site"
        case swarm = "Swarm"
        case services = "Services"
        case plan = "Plan"

        var path: String {
            switch self {
            case .site: "/"
            case .swarm: "/swarm"
            case .services: "/services"
            case .plan: "/plan"
            }
        }
    }

    /// Where the console is mounted: "" at the root, or e.g. "/console".
    var prefix: String
    /// False for a read-only console: pages show no action buttons.
    var actionsEnabled = true

    func link(_ path: String) -> String { prefix + path }

    func nodeLink(_ node: String) -> String {
        link("/nodes/" + Self.pathSegment(node))
    }

    /// `value` percent-encoded as one path segment. A name of letters, digits and `-._~` (every generated node
    /// name) is its own encoding: a site page of 100,000 nodes asked Foundation 100,000 times.
    static func pathSegment(_ value: String) -> String {
        let plain = value.utf8.allSatisfy { byte in
            (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "~")
        }
        return plain ? value : value.addingPercentEncoding(withAllowedCharacters: segmentAllowed) ?? value
    }

    private static let segmentAllowed = CharacterSet.urlPathAllowed.subtracting(["/"])

    /// A whole page, or only the inside of `main` when `fragment` (`?fragment=main`, what the live-update script
    /// asks for).
    func page(title: String, tab: Tab?, siteName: String, fragment: Bool, main: HTML) -> HTML {
        if fragment { return main }
        let nav = el("nav", [], children: [el("span", [("class", "brand")], text("rackswarm · " + siteName))]
            + Tab.allCases.map { item in
                el("a", [("href", link(item.path)), ("class", item == tab ? "active" : nil)], text(item.rawValue))
            })
        return .document(
            el("html", [("lang", "en")],
               el("head", [],
                  el("meta", [("charset", "utf-8")]),
                  el("meta", [("name", "viewport"), ("content", "width=device-width, initial-scale=1")]),
                  el("title", [], text(title + " · rackswarm")),
                  el("link", [("rel", "stylesheet"), ("href", link("/assets/console.css"))]),
                  el("script", [("src", link("/assets/console.js")), ("defer", "defer")])),
               el("body", [("data-prefix", prefix)],
                  el("header", [], nav),
                  el("main", [("id", "main"), ("data-live", "5")], main),
                  el("footer", [],
                     el("span", [("id", "live-status")], text("live: polling every 5 s")), text(" · "),
                     text(actionsEnabled ? "actions need an operator token" : "read-only"), text(" · "),
                     el("a", [("href", link("/api/v1/site"))], text("JSON API")), text(" · "),
                     el("a", [("href", "/metrics")], text("metrics"))))))
    }

    static func phaseClass(_ phase: NodeActivity.Phase) -> String { "phase-" + phase.rawValue }

    /// How a phase reads in a cell or a table: `downloading 42%`.
    static func phaseLabel(_ activity: NodeActivity) -> String {
        if activity.phase == .downloading, let percent = activity.percent {
            return "downloading \(Units.percent(percent))"
        }
        return activity.phase.rawValue
    }

    /// A `<table>` with a header row.
    static func table(_ headers: [String], _ rows: [HTML], class className: String? = nil) -> HTML {
        el("table", [("class", className)],
           el("thead", [], el("tr", [], children: headers.map { el("th", [], text($0)) })),
           el("tbody", [], children: rows))
    }

    static func row(_ cells: [HTML], attributes: [(StaticString, String?)] = []) -> HTML {
        el("tr", attributes, children: cells.map { el("td", [], $0) })
    }

    static func time(_ date: Date?) -> HTML {
        guard let date else { return text("—") }
        let stamp = Units.time(date)
        return el("time", [("datetime", stamp)], text(stamp))
    }

    /// A button the console script turns into an authenticated POST; nothing on a read-only console.
    func actionButton(_ label: String, post path: String, confirm: String? = nil) -> HTML {
        guard actionsEnabled else { return .empty }
        return el("button", [("type", "button"), ("class", "action"), ("data-post", link(path)), ("data-confirm", confirm)],
           text(label))
    }
}
