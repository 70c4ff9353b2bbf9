import BootServer
import Console
import Foundation
import Hummingbird
import HummingbirdTesting
import LabSupport
import Reconciler
import Testing

/// Actions need a token from the token file; without one they answer 401 (403 when read-only) and change nothing.
/// Accepted actions are stored and audited with who asked.
struct ConsoleActionTests {
    static let tokenFile = """
        # operators
        alice:alice-token-0123456789
        bob:bob-token-9876543210abc
        """

    static func tokens() throws -> OperatorTokens {
        let temporary = try TemporaryDirectory("rackswarm-tokens")
        let url = URL(fileURLWithPath: temporary.path + "/tokens")
        try tokenFile.write(to: url, atomically: true, encoding: .utf8)
        return try OperatorTokens(contentsOfFile: url.path)
    }

    static let posts = ["/api/v1/pass", "/api/v1/racks/r2/suspend", "/api/v1/racks/r2/resume"]

    /// Nothing an action writes: the audit, the suspensions, the pass request.
    static func untouched(_ store: any StateStore) async throws -> Bool {
        let audit = try await store.operatorActions()
        let suspended = try await store.suspendedRacks()
        let pass = try await store.passRequest()
        return audit.isEmpty && suspended.isEmpty && pass == nil
    }

    @Test func withoutValidTokenActionsAre401AndChangeNothing() async throws {
        let harness = try await ConsoleHarness.make()
        let badHeaders: [HTTPFields] = [
            [:], [.authorization: "Bearer wrong-token-0123456789"], [.authorization: "Bearer "],
            [.authorization: "Basic YWxpY2U6YWxpY2UtdG9rZW4tMDEyMzQ1Njc4OQ=="],
            [.authorization: "Bearer alice-token-012345678"],  // one character short
            [.authorization: "alice-token-0123456789"],
        ]
        try await harness.withClient(tokens: try Self.tokens()) { client in
            for path in Self.posts {
                for headers in badHeaders {
                    let answer = try await client.fetch(path, method: .post, headers: headers)
                    #expect(answer.status == 401, "\(path) \(headers)")
                    #expect(answer.headers[.wwwAuthenticate] == "Bearer realm=\"rackswarm\"")
                }
            }
        }
        #expect(try await Self.untouched(harness.store))
    }

    @Test func readOnlyConsoleRefusesEveryActionEvenWithAToken() async throws {
        let harness = try await ConsoleHarness.make()
        try await harness.withClient { client in
            let page = try await client.fetch("/")
            #expect(!page.body.contains("data-post=") && page.body.contains("read-only"), "no buttons that cannot work")
            for path in Self.posts {
                let answer = try await client.fetch(path, method: .post,
                                                    headers: [.authorization: "Bearer alice-token-0123456789"])
                #expect(answer.status == 403 && answer.body.contains("read-only"))
            }
        }
        #expect(try await Self.untouched(harness.store))
    }

    @Test func authenticatedActionsAreStoredAndAuditedWithTheActor() async throws {
        let harness = try await ConsoleHarness.make()
        let alice: HTTPFields = [.authorization: "Bearer alice-token-0123456789"]
        let bob: HTTPFields = [.authorization: "bearer bob-token-9876543210abc"]
        let (suspended, sitePage, resumed, pass, unknown) = try await harness.withClient(tokens: try Self.tokens()) {
            client in
            let suspended = try await client.fetch("/api/v1/racks/r2/suspend", method: .post, headers: alice)
            let sitePage = try await client.fetch("/")
            let resumed = try await client.fetch("/api/v1/racks/r2/resume", method: .post, headers: bob)
            let pass = try await client.fetch("/api/v1/pass", method: .post, headers: alice)
            let unknown = try await client.fetch("/api/v1/racks/r9/suspend", method: .post, headers: alice)
            return (suspended, sitePage, resumed, pass, unknown)
        }
        #expect(suspended.status == 200 && suspended.body.contains("suspended by alice"))
        #expect(sitePage.body.contains("class=\"rack suspended\" data-rack=\"r2\""))
        #expect(sitePage.body.contains("suspended by alice since"))
        #expect(sitePage.body.contains("data-post=\"/api/v1/racks/r2/resume\""))
        #expect(sitePage.body.contains("data-post=\"/api/v1/racks/r1/suspend\""))
        #expect(resumed.status == 200)
        #expect(pass.status == 202)
        #expect(unknown.status == 404)

        #expect(try await harness.store.suspendedRacks().isEmpty, "bob resumed r2")
        let request = try #require(try await harness.store.passRequest())
        #expect(request.actor == "alice" && abs(request.at.timeIntervalSince(harness.now)) < 0.001)
        let audit = try await harness.store.operatorActions()
        #expect(audit.map(\.actor) == ["alice", "bob", "alice"])
        #expect(audit.map(\.kind) == [.suspendRack, .resumeRack, .requestPass])
        #expect(audit.map(\.target) == ["r2", "r2", nil])
    }

    @Test func suspensionIsVisibleToTheReconcilerThroughTheStore() async throws {
        let harness = try await ConsoleHarness.make()
        let alice: HTTPFields = [.authorization: "Bearer alice-token-0123456789"]
        try await harness.withClient(tokens: try Self.tokens()) { client in
            #expect(try await client.fetch("/api/v1/racks/r1/suspend", method: .post, headers: alice).status == 200)
            #expect(try await client.fetch("/api/v1/racks/r3/suspend", method: .post, headers: alice).status == 200)
            let actions = try #require(try await client.json("/api/v1/actions").value as? [String: Any])
            #expect((actions["suspensions"] as? [[String: Any]])?.compactMap { $0["rack"] as? String } == ["r1", "r3"])
        }
        // Another process reading the same database sees it.
        let reopened = try SQLiteStateStore(path: harness.site.statePath)
        #expect(try await reopened.suspendedRacks() == ["r1", "r3"])
    }

    /// Over a real socket, the audit records the client's address.
    @Test func liveServerAuditsTheClientAddress() async throws {
        let harness = try await ConsoleHarness.make()
        let router = harness.console(tokens: try Self.tokens()).router(context: BootRequestContext.self)
        let app = Application(router: router,
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let answer = try await client.fetch("/api/v1/pass", method: .post,
                                                headers: [.authorization: "Bearer bob-token-9876543210abc"])
            #expect(answer.status == 202)
        }
        let audit = try await harness.store.operatorActions()
        #expect(audit.count == 1 && audit.first?.actor == "bob" && audit.first?.remote == "127.0.0.1")
    }

    @Test func tokenFileErrorsNameTheFileAndLine() throws {
        let temporary = try TemporaryDirectory("rackswarm-tokens")
        let url = URL(fileURLWithPath: temporary.path + "/tokens")
        for (text, expected) in [
            ("# nothing\n\n", "\(url.path): error: the token file holds no token"),
            ("alice:short\n", "\(url.path):1: error: a token must be at least 16 characters"),
            ("ok:0123456789abcdef\nbad name:0123456789abcdef\n", "\(url.path):2: error: the operator name"),
            // Bare tokens with a colon are refused, never cut in two.
            ("0123456789:abcdef:0123456789\n", "\(url.path):1: error: more than one ':'"),
            ("0123456789abcdef0123+/=x:yz0123456789abcdef\n", "\(url.path):1: error: the operator name"),
            ("\(String(repeating: "a", count: 65)):0123456789abcdef\n", "\(url.path):1: error: the operator name"),
        ] {
            try text.write(to: url, atomically: true, encoding: .utf8)
            #expect(throws: OperatorTokensError.self) { try OperatorTokens(contentsOfFile: url.path) }
            do {
                _ = try OperatorTokens(contentsOfFile: url.path)
            } catch {
                #expect(error.description.hasPrefix(expected), "\(error.description)")
            }
        }
        #expect(throws: OperatorTokensError.self) { try OperatorTokens(contentsOfFile: url.path + ".missing") }
        try "0123456789abcdef0123\n".write(to: url, atomically: true, encoding: .utf8)
        let tokens = try OperatorTokens(contentsOfFile: url.path)
        #expect(tokens.actor(authorization: "Bearer 0123456789abcdef0123") == "operator")
        #expect(tokens.actor(authorization: "Bearer 0123456789abcdef012") == nil)
    }
}
