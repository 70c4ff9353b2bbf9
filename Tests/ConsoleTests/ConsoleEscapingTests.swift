import Console
import Foundation
import HummingbirdTesting
import Testing

/// Text from YAML, git or agents comes out of every page as text: a `<script>` never reaches the browser as markup.
struct ConsoleEscapingTests {
    static let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"

    /// Each page and the hostile value it shows: the commit message, a node label, an agent's error, a service
    /// description.
    @Test(arguments: [
        ("/", "commit message"), ("/nodes/r1n1", "node label"), ("/nodes/r2n4", "agent error"),
        ("/services", "service description"), ("/nodes/r2n1", "service description"),
    ])
    func hostileTextRendersAsText(path: String, what: String) async throws {
        let harness = try await ConsoleHarness.make()
        let page = try await harness.page(path)
        #expect(!page.body.contains(hostile), "\(path): the \(what) reached the page unescaped")
        #expect(page.body.contains(Self.escaped), "\(path): the \(what) is not shown")
        // The only scripts are the console's own.
        #expect(occurrences(of: "<script", in: page.body) == 1)
    }

    @Test func everyPageAndFragmentIsFreeOfHostileMarkup() async throws {
        let harness = try await ConsoleHarness.make()
        let paths = ["/", "/swarm", "/services", "/plan"] + ConsoleTestSite.phases.keys.map { "/nodes/\($0)" }
        try await harness.withClient { client in
            for path in paths {
                for suffix in ["", "?fragment=main"] {
                    let page = try await client.fetch(path + suffix)
                    #expect(page.status == 200, "\(path)\(suffix)")
                    #expect(!page.body.contains(hostile), "\(path)\(suffix)")
                }
            }
        }
    }

    @Test func htmlBuilderEscapesTextAndAttributes() {
        let fragment = HTML.element("a", [("title", "\"><img src=x onerror=alert(1)>"), ("class", nil)],
                                    [.text("<b>&'\"")])
        #expect(fragment.rendered
                == "<a title=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\">&lt;b&gt;&amp;&#39;&quot;</a>")
    }
}
