import Foundation
import Hummingbird
import Logging
import NIOCore
import Drivers
import Reconciler

/// The web console: HTML pages, the JSON API under `/api/v1`, operator actions, and `/metrics`, added onto a
/// Hummingbird router (the boot server's, or one of its own).
///
/// Read-only without `tokens`: every action then answers 403. With tokens, an action needs
/// `Authorization: Bearer TOKEN`; a missing or wrong token answers 401 and changes nothing.
public struct Console: Sendable {
    public var source: any ConsoleDataSource
    public var tokens: OperatorTokens?
    /// Where pages and the API are mounted: "" for the root, or e.g. "/console" beside the boot files.
    public var prefix: String
    /// Serve `/metrics` (always at the root) from this registry; nil leaves it out.
    public var metrics: ConsoleMetrics?
    public var logger: Logger
    /// The clock actions are stamped with.
    public var now: @Sendable () -> Date
    /// The store's node overviews, kept between requests while the store does not change.
    let overviews = OverviewCache()

    public init(source: any ConsoleDataSource, tokens: OperatorTokens? = nil, prefix: String = "",
                metrics: ConsoleMetrics? = nil, logger: Logger = Logger(label: "rackswarm.console"),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.source = source
        self.tokens = tokens
        self.prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        self.metrics = metrics
        self.logger = logger
        self.now = now
    }

    /// A router holding only the console, for `reconcile console`.
    public func router<Context: RequestContext>(context: Context.Type = Context.self) -> Router<Context> {
        let router = Router(context: Context.self)
        addRoutes(to: router)
        return router
    }

    /// Adds every console route to `router`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        let layout = Layout(prefix: prefix, actionsEnabled: tokens != nil)
        func path(_ suffix: String) -> RouterPath { RouterPath(prefix + suffix) }

        // Pages.
        router.get(path(prefix.isEmpty ? "/" : "")) { request, _ in
            try await page(request, title: "Site", tab: .site) { snapshot in
                SiteView(snapshot, samples: try await samples(snapshot)).html(layout)
            }
        }
        router.get(path("/nodes/{node}")) { request, context in
            let name = context.parameters.get("node") ?? ""
            return try await page(request, title: "Node \(name)", tab: nil, journalOf: name) { snapshot in
                guard let node = snapshot.desired.node(named: name) else { throw NotFound(what: "node", name: name) }
                return NodeView(snapshot, node: node, observedPower: await source.powerState(node: name),
                                hardware: try await source.store.hardware(of: name)).html(layout)
            }
        }
        router.get(path("/swarm")) { request, _ in
            try await page(request, title: "Swarm", tab: .swarm) { snapshot in
                SwarmView(snapshot, samples: try await samples(snapshot)).html(layout)
            }
        }
        router.get(path("/services")) { request, _ in
            try await page(request, title: "Services", tab: .services) { snapshot in
                ServicesView(snapshot).html(layout)
            }
        }
        router.get(path("/plan")) { request, _ in
            try await page(request, title: "Plan", tab: .plan) { snapshot in
                PlanView(snapshot, plan: try await source.pendingPlan(for: snapshot.site)).html(layout)
            }
        }
        router.get(path("/assets/console.css")) { _, _ in
            Self.asset(ConsoleAssets.css, type: "text/css; charset=utf-8")
        }
        router.get(path("/assets/console.js")) { _, _ in
            Self.asset(ConsoleAssets.javaScript, type: "text/javascript; charset=utf-8")
        }

        // The JSON API.
        router.get(path("/api/v1/site")) { _, _ in
            try await api { snapshot in SiteView(snapshot, samples: try await samples(snapshot)) }
        }
        router.get(path("/api/v1/nodes")) { _, _ in
            try await api { snapshot in
                snapshot.sortedNodes.map { NodeSummary(snapshot.activity($0.name), rack: $0.rack.value) }
            }
        }
        router.get(path("/api/v1/nodes/{node}")) { _, context in
            let name = context.parameters.get("node") ?? ""
            return try await api(journalOf: name) { snapshot in
                guard let node = snapshot.desired.node(named: name) else { throw NotFound(what: "node", name: name) }
                return NodeView(snapshot, node: node, observedPower: await source.powerState(node: name),
                                hardware: try await source.store.hardware(of: name))
            }
        }
        router.get(path("/api/v1/swarm")) { _, _ in
            try await api { snapshot in SwarmView(snapshot, samples: try await samples(snapshot)) }
        }
        router.get(path("/api/v1/services")) { _, _ in
            try await api { snapshot in ServicesView(snapshot) }
        }
        router.get(path("/api/v1/plan")) { _, _ in
            try await api { snapshot in PlanView(snapshot, plan: try await source.pendingPlan(for: snapshot.site)) }
        }
        router.get(path("/api/v1/actions")) { _, _ in
            try await api { snapshot in
                ActionsView(passRequest: snapshot.passRequest, suspensions: snapshot.suspensions,
                            audit: try await source.store.operatorActions())
            }
        }

        // Actions.
        router.post(path("/api/v1/pass")) { request, context in
            try await action(request, context) { actor, remote in
                try await source.store.requestPass(actor: actor, remote: remote, at: now())
                return (.accepted, "pass requested by \(actor)")
            }
        }
        for (verb, suspend) in [("suspend", true), ("resume", false)] {
            router.post(path("/api/v1/racks/{rack}/\(verb)")) { request, context in
                let rack = context.parameters.get("rack") ?? ""
                return try await action(request, context) { actor, remote in
                    let site = try await source.site()
                    guard site.desired.racks.contains(where: { $0.name == rack })
                        || site.desired.nodes.contains(where: { $0.rack.value == rack })
                    else { throw NotFound(what: "rack", name: rack) }
                    if suspend {
                        try await source.store.suspendRack(rack, actor: actor, remote: remote, at: now())
                        return (.ok, "rack \(rack) suspended by \(actor)")
                    }
                    try await source.store.resumeRack(rack, actor: actor, remote: remote, at: now())
                    return (.ok, "rack \(rack) resumed by \(actor)")
                }
            }
        }

        if let metrics {
            router.get("/metrics") { _, _ in
                let snapshot = try await ConsoleSnapshot.read(from: source, cache: overviews, now: now())
                var phases: [NodeActivity.Phase: Int] = [:]
                for node in snapshot.desired.nodes { phases[snapshot.activity(node.name).phase, default: 0] += 1 }
                let body = metrics.scrape(phases: phases, suspendedRacks: snapshot.suspensions.count,
                                          leases: snapshot.holders.map { holders in
                                              Dictionary(uniqueKeysWithValues: snapshot.rackNames.map {
                                                  ($0, ConsoleMetrics.LeaseLabels(
                                                      holder: holders[$0] ?? "", server: snapshot.servers?[$0] ?? ""))
                                              })
                                          })
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: body)))
            }
        }

        // MARK: Helpers (closures over the console's settings).

        @Sendable func samples(_ snapshot: ConsoleSnapshot) async throws -> [InstallSample] {
            try await source.store.installSamples(since: snapshot.now.addingTimeInterval(-installSampleRetention))
        }

        @Sendable func page(_ request: Request, title: String, tab: Layout.Tab?, journalOf node: String? = nil,
                            _ body: @Sendable (ConsoleSnapshot) async throws -> HTML) async throws -> Response {
            let fragment = request.uri.queryParameters.get("fragment") == "main"
            var siteName = "?"
            let main: HTML
            let status: HTTPResponse.Status
            do {
                let snapshot = try await ConsoleSnapshot.read(from: source, cache: overviews, now: now(),
                                                              fullJournalOf: node)
                siteName = snapshot.desired.site.name
                main = try await body(snapshot)
                status = .ok
            } catch let error as NotFound {
                main = .group([el("h1", [], text("Not found")), el("p", [], text(error.message))])
                status = .notFound
            } catch {
                logger.warning("console page failed", metadata: ["error": "\(error)"])
                main = .group([el("h1", [], text("Unavailable")),
                               el("p", [("class", "error")], text("The console cannot read the site: \(error)"))])
                status = .serviceUnavailable
            }
            let html = layout.page(title: title, tab: tab, siteName: siteName, fragment: fragment, main: main)
            return Response(status: status, headers: Self.htmlHeaders,
                            body: .init(byteBuffer: ByteBuffer(string: html.rendered)))
        }

        @Sendable func api(journalOf node: String? = nil,
                           _ body: @Sendable (ConsoleSnapshot) async throws -> some Encodable & Sendable) async throws
            -> Response
        {
            do {
                let snapshot = try await ConsoleSnapshot.read(from: source, cache: overviews, now: now(),
                                                              fullJournalOf: node)
                return try Self.json(.ok, try await body(snapshot))
            } catch let error as NotFound {
                return try Self.json(.notFound, Message(message: error.message))
            } catch {
                logger.warning("console API failed", metadata: ["error": "\(error)"])
                return try Self.json(.serviceUnavailable, Message(message: "cannot read the site: \(error)"))
            }
        }

        @Sendable func action(
            _ request: Request, _ context: Context,
            _ body: @Sendable (_ actor: String, _ remote: String?) async throws -> (HTTPResponse.Status, String)
        ) async throws -> Response {
            guard let tokens else {
                return try Self.json(.forbidden, Message(
                    message: "the console is read-only: start it with a token file to allow actions"))
            }
            guard let actor = tokens.actor(authorization: request.headers[.authorization]) else {
                var response = try Self.json(.unauthorized, Message(message: "a valid bearer token is required"))
                response.headers[.wwwAuthenticate] = "Bearer realm=\"rackswarm\""
                return response
            }
            let remote = (context as? any RemoteAddressRequestContext)?.remoteAddress?.ipAddress
            do {
                let (status, message) = try await body(actor, remote)
                logger.info("console action", metadata: ["actor": "\(actor)", "action": "\(message)"])
                return try Self.json(status, Message(message: message))
            } catch let error as NotFound {
                return try Self.json(.notFound, Message(message: error.message))
            }
        }
    }

    static let htmlHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .cacheControl: "no-store",
        .contentSecurityPolicy:
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    ]

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The API's encoder: keys sorted, slashes as they are, dates in ISO 8601.
    static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        let encoder = jsonEncoder()
        // The site view writes its cells itself (the same bytes): 100,000 of them through the encoder took ~1 s.
        let bytes: [UInt8]
        if let view = value as? SiteView {
            bytes = try view.json(encoder: encoder)
        } else {
            bytes = Array(try encoder.encode(value))
        }
        return Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// `{"message": "..."}`: what actions and errors answer.
struct Message: Codable, Sendable {
    var message: String
}

/// A node in `/api/v1/nodes`.
struct NodeSummary: Codable, Sendable {
    var node: String
    var rack: String
    var phase: NodeActivity.Phase
    var percent: Double?
    var lastError: String?
    var action: PlannedAction.Kind?
    var since: Date?

    init(_ activity: NodeActivity, rack: String) {
        node = activity.node
        self.rack = rack
        phase = activity.phase
        percent = activity.percent
        lastError = activity.lastError
        action = activity.action
        since = activity.since
    }
}

/// `/api/v1/actions`: the pending pass request, suspended racks and the operator audit.
struct ActionsView: Codable, Sendable {
    var passRequest: PassRequest?
    var suspensions: [RackSuspension]
    var audit: [OperatorAction]
}

struct NotFound: Error {
    var what: String
    var name: String
    var message: String { "no \(what) named '\(name)' in the site" }
}
