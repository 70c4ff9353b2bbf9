import Console
import Foundation
import Reconciler
import Testing

/// The console says why a commit drives nothing and when the maintenance window opens, on the site page, the
/// plan page and the plan API.
struct ConsoleGateTests {
    static let why = "commit 1a2b3c4 is not signed by a trusted key (the commit is not signed)"

    static func harness() async throws -> ConsoleHarness {
        let base = try await ConsoleHarness.make()
        var loaded = base.loaded
        loaded.blocked = Self.why
        // A window that is never open now: one minute on a day other than today.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let other = calendar.component(.weekday, from: base.now) % 7  // tomorrow (0 = Sunday)
        loaded.desired.site.windows = MaintenanceWindows(windows: [
            MaintenanceWindow(schedule: .weekly(days: [other], start: 120, end: 121), timeZone: .gmt,
                              location: loaded.desired.site.location),
        ])
        return ConsoleHarness(site: base.site, loaded: loaded, store: base.store, now: base.now)
    }

    @Test func theSitePageShowsTheRefusalAndTheNextWindow() async throws {
        let harness = try await Self.harness()
        let page = try await harness.page("/")
        #expect(page.body.contains("id=\"blocked\""))
        #expect(page.body.contains("not signed by a trusted key"))
        #expect(page.body.contains("id=\"window\""))
        let next = try #require(harness.loaded.desired.site.windows.nextOpening(after: harness.now))
        #expect(page.body.contains("closed; next opens " + MaintenanceGate.format(next)))
    }

    @Test func thePlanPageSaysNothingWillRunAndMarksHeldActions() async throws {
        let harness = try await Self.harness()
        let page = try await harness.page("/plan")
        #expect(page.body.contains("Nothing will run: commit 1a2b3c4 is not signed by a trusted key"))
        #expect(page.body.contains("held until "))
    }
}
