import BootServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Reconciler
import Testing

@testable import Console

/// The console keeps the store's node overviews between requests while the store does not change, and reads them
/// again after any write: by the console's own store (`reconcile apply` serving its console) or by another
/// connection to the same file (`reconcile apply` beside `reconcile console`).
struct ConsoleOverviewCacheTests {
    /// The error `/api/v1/nodes` shows for `node`.
    static func lastError(_ node: String, _ client: any TestClientProtocol) async throws -> String? {
        let nodes = try #require(try await client.json("/api/v1/nodes").value as? [[String: Any]])
        let entry = try #require(nodes.first { $0["node"] as? String == node })
        return entry["lastError"] as? String
    }

    @Test func aQuietStoreIsReadOnceAndAnyWriteIsSeen() async throws {
        let harness = try await ConsoleHarness.make()
        let console = harness.console()
        let app = Application(router: console.router(context: BootRequestContext.self))
        let other = try SQLiteStateStore(path: harness.site.statePath)
        try await app.test(.router) { client in
            #expect(try await Self.lastError("r3n1", client) == "BMC refused the password")
            _ = try await client.fetch("/")
            _ = try await client.fetch("/api/v1/site")
            #expect(console.overviews.reads == 1, "three requests on a quiet store read it once")

            // A write through the console's own store (its own connection).
            try await harness.store.record(NodeStatus(phase: .failed, rack: "r3"), lastError: "fan failure",
                                           for: "r3n1", at: harness.now)
            #expect(try await Self.lastError("r3n1", client) == "fan failure")
            #expect(console.overviews.reads == 2)

            // A write by another connection to the same file, as another process would write it.
            try await other.record(NodeStatus(phase: .failed, rack: "r3"), lastError: "PSU failure", for: "r3n1",
                                   at: harness.now)
            #expect(try await Self.lastError("r3n1", client) == "PSU failure")
            let page = try await client.fetch("/")
            #expect(page.body.contains("r3n1: PSU failure"))
            #expect(console.overviews.reads == 3)

            // A journal write alone (no node record changed) is a change too.
            _ = try await other.journalPlanned(
                [PlannedAction(node: "r3n1", rack: "r3", wave: 1, kind: .powerCycle, destructive: true,
                               detail: "power cycle")], commit: "abc", at: harness.now)
            _ = try await client.fetch("/api/v1/nodes")
            #expect(console.overviews.reads == 4)
        }
    }

    /// The token moves with every write of either connection and stays put otherwise.
    @Test func changeTokenMovesWithEveryWrite() async throws {
        let harness = try await ConsoleHarness.make()
        let other = try SQLiteStateStore(path: harness.site.statePath)
        let first = try #require(try await harness.store.changeToken())
        #expect(try await harness.store.changeToken() == first)
        _ = try await harness.store.nodeOverviews()
        #expect(try await harness.store.changeToken() == first, "a read is no change")
        try await harness.store.requestPass(actor: "ops", remote: nil, at: harness.now)
        let second = try #require(try await harness.store.changeToken())
        #expect(second != first)
        try await other.suspendRack("r2", actor: "ops", remote: nil, at: harness.now)
        let third = try #require(try await harness.store.changeToken())
        #expect(third != second)
        #expect(try await harness.store.changeToken() == third)
    }
}
