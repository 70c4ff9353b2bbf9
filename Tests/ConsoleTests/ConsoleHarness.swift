import BootServer
import Console
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Reconciler
import Testing

/// A seeded console in a Hummingbird test application: the test site, its SQLite store, a fixed clock.
struct ConsoleHarness: Sendable {
    struct Fetched: Sendable {
        var status: Int
        var body: String
        var headers: HTTPFields
    }

    let site: ConsoleTestSite
    let loaded: ConsoleSite
    let store: SQLiteStateStore
    let now: Date

    static func make() async throws -> ConsoleHarness {
        let site = try await ConsoleTestSite()
        let store = try SQLiteStateStore(path: site.statePath)
        let now = Date()
        try await ConsoleTestSite.seed(store, now: now)
        return ConsoleHarness(site: site, loaded: try site.load(), store: store, now: now)
    }

    func console(tokens: OperatorTokens? = nil, prefix: String = "", metrics: ConsoleMetrics? = nil) -> Console {
        let now = now
        return Console(source: FixedSource(loaded: loaded, store: store), tokens: tokens, prefix: prefix,
                       metrics: metrics, now: { now })
    }

    /// Runs `body` against the console's routes (Hummingbird's router test framework: no socket).
    func withClient<Value: Sendable>(
        tokens: OperatorTokens? = nil, metrics: ConsoleMetrics? = nil,
        _ body: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let router = console(tokens: tokens, metrics: metrics).router(context: BootRequestContext.self)
        let app = Application(router: router)
        return try await app.test(.router, body)
    }

    /// A boot server's router with a kernel file at `/boot/vmlinuz`, and the console mounted under `/console`
    /// answering "off" for every node's power.
    func bootServerWithConsole(metrics: ConsoleMetrics) throws -> Router<BootRequestContext> {
        let httpRoot = site.root.appendingPathComponent("http")
        try FileManager.default.createDirectory(at: httpRoot.appendingPathComponent("boot"),
                                                withIntermediateDirectories: true)
        try Data("kernel".utf8).write(to: httpRoot.appendingPathComponent("boot/vmlinuz"))
        let router = BootHTTPServer(httpRoot: httpRoot.path, logger: Logger(label: "test.boot")).router()
        let loaded = loaded
        let source = ClosureConsoleSource(store: store, site: { loaded }, power: { _ in "off" })
        Console(source: source, prefix: "/console", metrics: metrics).addRoutes(to: router)
        return router
    }

    /// GETs the page at `path` and expects it served.
    func page(_ path: String) async throws -> Fetched {
        let fetched = try await withClient { try await $0.fetch(path) }
        #expect(fetched.status == 200, "\(path): \(fetched.status) \(fetched.body)")
        return fetched
    }
}

extension TestClientProtocol {
    func fetch(_ uri: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:]) async throws
        -> ConsoleHarness.Fetched
    {
        let response = try await execute(uri: uri, method: method, headers: headers, body: nil)
        return ConsoleHarness.Fetched(status: Int(response.status.code), body: String(buffer: response.body),
                                      headers: response.headers)
    }

    /// GETs `uri` as JSON and decodes it into a loose tree.
    func json(_ uri: String) async throws -> JSONDocument {
        let fetched = try await fetch(uri)
        #expect(fetched.status == 200, "\(uri): \(fetched.status) \(fetched.body)")
        #expect(fetched.headers[.contentType] == "application/json")
        return JSONDocument(value: try JSONSerialization.jsonObject(with: Data(fetched.body.utf8)))
    }
}

/// A decoded JSON tree (dictionaries, arrays, strings, numbers), passed out of a test client closure.
struct JSONDocument: @unchecked Sendable {
    let value: Any
}

/// How many times `needle` occurs in `haystack`.
func occurrences(of needle: String, in haystack: String) -> Int {
    haystack.components(separatedBy: needle).count - 1
}
