import Drivers
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import RackswarmCore
import Torrent

/// The request context of the boot server: Hummingbird's basics plus the client's address (for the tracker).
public struct BootRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// The reconciler's HTTP endpoint for network boot: per-MAC iPXE scripts, every file under the HTTP root
/// (kernels, initrds, .torrent files, images) with byte ranges, when given one the BitTorrent tracker at
/// `/announce` and `/scrape` (the `rackswarm.tracker=` kernel argument), and when given the closures the install
/// environment's `/report/{node}` (`rackswarm.report=`, see `InstallReport`).
public struct BootHTTPServer: Sendable {
    /// One request the server answered, for logs and tests.
    public struct Served: Sendable, Hashable {
        public var method: String
        public var path: String
        public var range: String?
        public var status: Int
    }

    public var httpRoot: String
    public var logger: Logger
    /// The tracker served at `/announce` and `/scrape`; nil leaves those paths to the file routes (404).
    public var tracker: TrackerService?
    /// Called after every answered request.
    public var observer: (@Sendable (Served) async -> Void)?
    /// `GET /report/{node}`: the node's install instructions; nil for a node the site does not know (404).
    public var instructions: (@Sendable (String) async throws -> InstallInstructions?)?
    /// `POST /report/{node}`: records one report. The server answers 204 only after it returned; throwing
    /// `ReportRejection.unknownNode` answers 404, any other error 500.
    public var onReport: (@Sendable (String, InstallReport) async throws -> Void)?

    /// Checks the install token of every `GET|POST /report/{node}` before the closures see it: node, the bearer
    /// token the request carried (nil: none), the client's address, and a `POST`'s report (nil for a `GET` or a
    /// body that is no report). Nil lets every request through.
    public var authorize: (@Sendable (String, String?, String, InstallReport?) async -> InstallAccess)?
    /// May this client (its address) read the iPXE script of this MAC (`01-aa-bb-…`)? A refusal answers 404, like a
    /// missing script. Nil: anyone may.
    public var bootScriptReader: (@Sendable (String, String) async -> Bool)?

    /// The largest report body accepted (a report is a few hundred bytes).
    public static let maxReportBytes = 64 << 10
    /// Timeouts and the per-address connection limit of the listener.
    public var limits = ListenerLimits()
    /// Further routes mounted on the same server (the console, metrics).
    public var extraRoutes: [@Sendable (Router<BootRequestContext>) -> Void] = []

    public init(httpRoot: String, logger: Logger, tracker: TrackerService? = nil,
                observer: (@Sendable (Served) async -> Void)? = nil,
                instructions: (@Sendable (String) async throws -> InstallInstructions?)? = nil,
                onReport: (@Sendable (String, InstallReport) async throws -> Void)? = nil) {
        self.httpRoot = httpRoot
        self.logger = logger
        self.tracker = tracker
        self.observer = observer
        self.instructions = instructions
        self.onReport = onReport
    }

    /// The bearer token of an `Authorization: Bearer …` header; nil for none or another scheme.
    static func bearerToken(_ request: Request) -> String? {
        guard let value = request.headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// The 401 or 403 answer for a request `authorize` did not grant (204 for a repeat of a recorded report); nil
    /// when it did (or there is no check).
    func denial(_ request: Request, node: String, report: InstallReport? = nil, context: BootRequestContext) async
        -> Response?
    {
        guard let authorize else { return nil }
        switch await authorize(node, Self.bearerToken(request), context.remoteAddress?.ipAddress ?? "?", report) {
        case .granted:
            return nil
        case .alreadyRecorded:
            logger.info("install report repeated", metadata: ["node": "\(node)"])
            return Response(status: .noContent)
        case .missingToken:
            var response = Self.text(.unauthorized, "the install token of '\(node)' is required\n")
            response.headers[.wwwAuthenticate] = "Bearer realm=\"rackswarm-install\""
            return response
        case .refused(let why):
            return Self.text(.forbidden, "refused: \(why)\n")
        }
    }

    /// What an `onReport` closure throws for a node the site does not know.
    public enum ReportRejection: Error, Sendable {
        case unknownNode
    }

    /// The routes: `GET|HEAD /ipxe/{mac}` (any MAC spelling, with or without `01-` and `.ipxe`) and
    /// `GET|HEAD /{path}` for files under the HTTP root. Hidden files (the manifest, temp files) are never served.
    public func router() -> Router<BootRequestContext> {
        let router = Router(context: BootRequestContext.self)
        if let observer { router.add(middleware: ObserverMiddleware(observer: observer)) }
        // Request counts and latencies per route and status through swift-metrics (the reconciler's /metrics).
        router.add(middleware: MetricsMiddleware())
        let files = BootFiles(root: httpRoot, logger: logger)
        for add in extraRoutes { add(router) }
        if let tracker {
            for path in ["/announce", "/scrape"] {
                router.get(RouterPath(path)) { request, context in
                    let host = context.remoteAddress?.ipAddress ?? ""
                    let answer = tracker.handle(uri: request.uri.description, remoteHost: host)
                    return Response(status: .init(code: answer.status), headers: [.contentType: "text/plain"],
                                    body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
                }
            }
        }
        if let instructions {
            router.get("/report/{node}") { request, context in
                guard let node = context.parameters.get("node") else { return Response(status: .notFound) }
                if let denied = await denial(request, node: node, context: context) { return denied }
                do {
                    guard let answer = try await instructions(node) else {
                        return Self.text(.notFound, "unknown node '\(node)'\n")
                    }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    return Response(status: .ok, headers: [.contentType: "application/json"],
                                    body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(answer))))
                } catch {
                    logger.error("instructions failed", metadata: ["node": "\(node)", "error": "\(error)"])
                    return Self.text(.internalServerError, "cannot answer instructions for '\(node)': \(error)\n")
                }
            }
        }
        if let onReport {
            router.post("/report/{node}") { request, context in
                guard let node = context.parameters.get("node") else { return Response(status: .notFound) }
                // The body first (at most 64 KiB): a repeat of a recorded report is told apart by its content.
                let body: ByteBuffer
                do {
                    body = try await request.body.collect(upTo: Self.maxReportBytes)
                } catch {
                    return Self.text(.contentTooLarge, "report body over \(Self.maxReportBytes) bytes\n")
                }
                let decoded = ReportBody.decode(Array(body.readableBytesView))
                let report: InstallReport
                if let denied = await denial(request, node: node, report: try? decoded.get(), context: context) {
                    return denied
                }
                switch decoded {
                case .failure(let problem): return Self.text(.badRequest, "not an install report: \(problem)\n")
                case .success(let decoded): report = decoded
                }
                do {
                    try await onReport(node, report)
                } catch ReportRejection.unknownNode {
                    return Self.text(.notFound, "unknown node '\(node)'\n")
                } catch {
                    logger.error("report not recorded", metadata: ["node": "\(node)", "error": "\(error)"])
                    return Self.text(.internalServerError, "report not recorded: \(error)\n")
                }
                return Response(status: .noContent)
            }
        }
        for method in [HTTPRequest.Method.get, .head] {
            router.on("/ipxe/{mac}", method: method) { request, context in
                guard let name = context.parameters.get("mac"), let pxeName = PXEName.from(name),
                    await mayRead(pxeName, context: context)
                else { return Response(status: .notFound) }
                return try await files.serve("ipxe/\(pxeName).ipxe", request: request, context: context)
            }
            router.on("**", method: method) { request, context in
                // The same scripts by their file path: the same check.
                if let relative = BootFiles.safeRelativePath(request.uri.path), relative.hasPrefix("ipxe/"),
                    !(await mayRead(PXEName.from(String(relative.dropFirst(5))) ?? "", context: context))
                {
                    return Response(status: .notFound)
                }
                return try await files.serve(request.uri.path, request: request, context: context)
            }
        }
        return router
    }

    /// Whether `bootScriptReader` lets this client read the script of `pxeName` (true when there is none).
    func mayRead(_ pxeName: String, context: BootRequestContext) async -> Bool {
        guard let bootScriptReader else { return true }
        return await bootScriptReader(pxeName, context.remoteAddress?.ipAddress ?? "?")
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: message)))
    }

    /// An application listening on `host:port` (port 0 picks one; `onServerRunning` learns it).
    public func application(host: String, port: Int,
                            onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        Application(
            router: router(),
            server: limits.server(),
            configuration: .init(address: .hostname(host, port: port), serverName: "rackswarm-boot"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

/// Serves files from one directory with `Range` support.
struct BootFiles: Sendable {
    var root: String
    var logger: Logger

    func serve(_ rawPath: String, request: Request, context: BootRequestContext) async throws -> Response {
        guard let relative = Self.safeRelativePath(rawPath) else { return Response(status: .notFound) }
        // The repo rule (`ConfinedPath`) on the resolved path: a symlinked directory or file that leads out of the
        // root is refused like a missing file, and so is anything but a regular file.
        guard let path = try? ConfinedPath.resolveJoined(root + "/" + relative, shown: relative, inside: root),
            let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.intValue
        else { return Response(status: .notFound) }
        var headers: HTTPFields = [.acceptRanges: "bytes", .contentType: Self.mediaType(relative)]
        let range = ByteRange.parse(request.headers[.range], size: size)
        let status: HTTPResponse.Status
        let bytes: ClosedRange<Int>?
        switch range {
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size)"
            headers[.contentLength] = "0"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        case .full:
            status = .ok
            bytes = size > 0 ? 0...(size - 1) : nil
        case .partial(let part):
            status = .partialContent
            bytes = part
            headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound)/\(size)"
        }
        headers[.contentLength] = String(bytes?.count ?? 0)
        guard request.method == .get, let bytes else { return Response(status: status, headers: headers) }
        let body = try await FileIO(threadPool: .singleton).loadFile(path: path, range: bytes, context: context)
        return Response(status: status, headers: headers, body: body)
    }

    /// The percent-decoded path without a leading slash; nil for `..`, hidden names or empty components.
    static func safeRelativePath(_ rawPath: String) -> String? {
        let decoded = rawPath.removingPercentEncoding ?? rawPath
        let components = decoded.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.isEmpty, !components.contains(where: { $0.hasPrefix(".") || $0.contains("\0") })
        else { return nil }
        return components.joined(separator: "/")
    }

    static func mediaType(_ path: String) -> String {
        if path.hasSuffix(".ipxe") { return "text/plain; charset=utf-8" }
        if path.hasSuffix(".torrent") { return "application/x-bittorrent" }
        return "application/octet-stream"
    }
}

/// Reports each answered request to an observer.
struct ObserverMiddleware<Context: RequestContext>: RouterMiddleware {
    let observer: @Sendable (BootHTTPServer.Served) async -> Void

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            await observer(.init(method: request.method.rawValue, path: request.uri.path,
                                 range: request.headers[.range], status: error.status.code))
            throw error
        }
        await observer(.init(method: request.method.rawValue, path: request.uri.path,
                             range: request.headers[.range], status: response.status.code))
        return response
    }
}
