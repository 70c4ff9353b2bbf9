import Foundation
import Reconciler
import Testing

@testable import Console

/// The site page and `/api/v1/site` write their cells without a value per element (at 100,000 nodes the encoder and
/// the element tree were most of the request): the bytes must stay those `JSONEncoder` and `el` write, for plain
/// names and for every value the hand-written path leaves to the encoder or escapes.
struct ConsoleSiteScaleTests {
    /// The seeded site (every phase once, a download in flight, errors) and the same view made hostile.
    static func views() async throws -> [(String, SiteView)] {
        let harness = try await ConsoleHarness.make()
        try await harness.store.suspendRack("r2", actor: "ops \"night\" shift", remote: nil, at: harness.now)
        var snapshot = try await ConsoleSnapshot.read(
            from: FixedSource(loaded: harness.loaded, store: harness.store), now: harness.now)
        let samples = try await harness.store.installSamples(since: .distantPast)
        let seeded = SiteView(snapshot, samples: samples)
        snapshot.holders = ["r1": "reconciler-a", "r3": "b/\"quoted\""]
        var hostile = SiteView(snapshot, samples: samples)
        hostile.racks[0].nodes[0].lastError = "disk \"full\" \\ ✗\n\t\u{1}"
        hostile.racks[0].nodes[1].lastError = "plain error / with a slash"
        hostile.racks[1].nodes[0].node = "nœud-1 <b>&'\""
        hostile.racks[1].nodes[1].percent = 33.333333333333336
        hostile.racks.append(SiteView.RackTile(name: "empty rack", suspension: nil, holder: "", nodes: []))
        var bare = seeded
        bare.racks = []
        return [("seeded", seeded), ("hostile", hostile), ("no racks", bare)]
    }

    @Test func siteJSONIsTheEncodersBytes() async throws {
        let views = try await Self.views()
        #expect(views[0].1.racks.flatMap(\.nodes).contains { $0.percent != nil }, "a download in the seed")
        #expect(views[0].1.racks.flatMap(\.nodes).contains { $0.lastError != nil }, "an error in the seed")
        #expect(views[0].1.racks.contains { $0.suspension != nil }, "a suspended rack")
        for (name, view) in views {
            let fast = try view.json(encoder: Console.jsonEncoder())
            let encoded = Array(try Console.jsonEncoder().encode(view))
            #expect(fast == encoded, "\(name): \(String(decoding: fast, as: UTF8.self))")
        }
    }

    /// Every desired node is a cell of the document (nothing dropped on the hand-written path).
    @Test func siteJSONHoldsEveryNode() async throws {
        let harness = try await ConsoleHarness.make()
        let document = try await harness.withClient { try await $0.json("/api/v1/site") }
        let racks = try #require((document.value as? [String: Any])?["racks"] as? [[String: Any]])
        let cells = racks.flatMap { ($0["nodes"] as? [[String: Any]]) ?? [] }.compactMap { $0["node"] as? String }
        #expect(cells.sorted() == harness.loaded.desired.nodes.map(\.name).sorted())
    }

    /// The cells as the page wrote them before, one `el` per element.
    static func elementCells(_ cells: [SiteView.Cell], _ layout: Layout) -> HTML {
        .group(cells.map { cell in
            el("a", [("class", "cell " + Layout.phaseClass(cell.phase)), ("data-node", cell.node),
                     ("data-phase", cell.phase.rawValue), ("href", layout.nodeLink(cell.node)),
                     ("title", cell.lastError.map { "\(cell.node): \($0)" } ?? cell.node)],
               cell.percent.map { el("span", [("class", "bar"), ("style", "width: \(Int($0))%")]) } ?? .empty,
               el("span", [("class", "name")], text(cell.node)),
               el("span", [("class", "phase")],
                  text(cell.percent.map { "\(Units.percent($0))" } ?? cell.phase.rawValue)))
        })
    }

    @Test func siteCellsAreTheElementsBytes() async throws {
        let views = try await Self.views()
        for layout in [Layout(prefix: "", actionsEnabled: false), Layout(prefix: "/console", actionsEnabled: true)] {
            for (name, view) in views {
                for tile in view.racks {
                    let written = SiteView.cells(tile.nodes, layout).rendered
                    #expect(written == Self.elementCells(tile.nodes, layout).rendered, "\(name) rack \(tile.name)")
                }
            }
        }
        let hostile = try #require(views.first { $0.0 == "hostile" }?.1)
        let page = hostile.html(Layout(prefix: "", actionsEnabled: false)).rendered
        #expect(page.contains("n\u{153}ud-1 &lt;b&gt;&amp;&#39;&quot;"), "a node name is escaped")
        #expect(!page.contains("<b>"))
    }
}
