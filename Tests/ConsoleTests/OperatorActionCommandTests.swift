import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing

/// `reconcile suspend RACK`, `resume RACK` and `pass` against a running server's API with a token: the same
/// actions the console's buttons take, recorded in the same audit.
struct OperatorActionCommandTests {
    @Test func suspendResumeAndPassGoThroughTheAPIWithAToken() async throws {
        let site = try await ConsoleTestSite()
        let tokens = site.root.appendingPathComponent("tokens").path
        try "alice:alice-operator-token-0001\n".write(toFile: tokens, atomically: true, encoding: .utf8)
        let binary = productsDirectory + "/reconcile"
        try await ConsoleBrowserTests().withConsoleServer(site: site, extra: ["--token-file", tokens]) { url in
            func run(_ arguments: [String], token: String = "alice-operator-token-0001") async -> LabCommandResult {
                await runCommand(binary, arguments + ["--server", url],
                                                 environment: ["RACKSWARM_TOKEN": token], timeout: 60)
            }
            let suspended = await run(["suspend", "r1"])
            #expect(suspended.status == 0 && suspended.output.contains("rack r1 suspended by alice"),
                    "\(suspended.output)")
            let store = try SQLiteStateStore(path: site.statePath)
            #expect(try await store.suspendedRacks() == ["r1"])
            let pass = await run(["pass", "-o", "json"])
            #expect(pass.status == 0 && pass.output.contains("\"message\":\"pass requested by alice\""),
                    "\(pass.output)")
            #expect(try await store.passRequest() != nil)
            let resumed = await run(["resume", "r1"])
            #expect(resumed.status == 0 && resumed.output.contains("rack r1 resumed by alice"))
            #expect(try await store.suspendedRacks().isEmpty)
            // A wrong token and an unknown rack are refused with the server's reason, and change nothing.
            let wrong = await run(["suspend", "r1"], token: "not-a-valid-token-at-all")
            #expect(wrong.status == 1 && wrong.output.contains("refused (401): a valid bearer token is required"),
                    "\(wrong.output)")
            let unknown = await run(["suspend", "r9"])
            #expect(unknown.status == 1 && unknown.output.contains("refused (404)"), "\(unknown.output)")
            #expect(try await store.suspendedRacks().isEmpty)
            let audit = try await store.operatorActions().map(\.actor)
            #expect(audit == ["alice", "alice", "alice"], "\(audit)")
        }
    }
}
