import Console
import Foundation
import HummingbirdTesting
import RackswarmCore
import Reconciler
import Testing

/// Install reports at the edges of what the boot server accepts (`ReportBody`) never make a page trap: the console
/// sums their counters over nodes and divides `downloaded` by `percent` to imply an image's size.
struct ConsoleHostileReportTests {
    /// `ReportBody.maxCounter`, the largest byte counter the boot server takes from a node.
    static let maxCounter: Int64 = 1 << 48

    /// Every node reports the largest counters and a percent so small that the implied image size (before: an
    /// Int64 conversion of 1e+316 that trapped) is past any Int64; every page still answers.
    @Test(arguments: [1e-300, Double.leastNonzeroMagnitude, 0.001, 100])
    func extremeReportsRenderEveryPage(percent: Double) async throws {
        let harness = try await ConsoleHarness.make()
        let store: any StateStore = harness.store
        for node in ConsoleTestSite.phases.keys.sorted() {
            for (offset, downloaded) in [Self.maxCounter / 2, Self.maxCounter].enumerated() {
                try await store.recordInstall(
                    InstallReport(phase: .downloading, image: ConsoleTestSite.image, percent: percent,
                                  downloaded: downloaded, uploaded: Self.maxCounter, fromSeed: Self.maxCounter,
                                  uploadStartedAtPercent: 100),
                    for: node, at: harness.now.addingTimeInterval(Double(offset) - 10))
            }
        }
        let paths = ["/", "/swarm", "/plan"] + ConsoleTestSite.phases.keys.sorted().map { "/nodes/\($0)" }
        try await harness.withClient { client in
            for path in paths {
                let page = try await client.fetch(path)
                #expect(page.status == 200, "\(path): \(page.body.prefix(200))")
            }
        }
    }
}
