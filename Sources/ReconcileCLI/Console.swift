import ArgumentParser
import CommandLineSupport
import BootServer
import Console
import Foundation
import Hummingbird
import Logging
import RackswarmCore
import Reconciler
import ReconcilerPostgres
import Torrent

/// `reconcile console`: the web console (and `/metrics`) for a repo and a state database, on its own server.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Serve the web console, its JSON API and /metrics for the site and its state database.",
        discussion: """
            Read-only unless --token-file names a file of operator tokens (one per line, NAME:TOKEN or TOKEN); \
            then POST /api/v1/pass and /api/v1/racks/RACK/{suspend,resume} accept `Authorization: Bearer TOKEN` \
            and record who asked.
            """)

    @OptionGroup var source: SourceOptions

    @Option(help: "State database (observed status, journal, install reports).")
    var state: String = Settings.value("state", ".rackswarm/state.db")

    @Option(help: "Listen on HOST:PORT (port 0 picks a free one; the URL is printed).")
    var listen: String = "127.0.0.1:8088"

    @OptionGroup var tokens: TokenFileOption

    @Option(help: .duration("Load the repo again at most this often (e.g. 10, 1m; 0 loads it for every page)."),
            transform: Quantity.durationFlag(in: .zero ... Quantity.durations.upperBound))
    var refresh: Duration = .seconds(10)

    /// `-o json` prints the listening line as JSON (`event`, `url`, `port`, `mode`); `--out-file` receives it.
    @OptionGroup var output: OutputOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard HostPort(parsing: listen) != nil else { throw ValidationError("--listen wants HOST:PORT") }
    }

    func run() async throws {
        let logger = Logger(label: "rackswarm.console")
        let tokens = try self.tokens.load()
        // The first load checks the site, so a broken repo fails now rather than on the first page.
        let (checkout, desired) = try source.loadSite(refusal: "the console was not started")
        let store = try await StateLocation.open(state)
        let repoSource = RepoConsoleSource(
            source: source.source, store: store, refresh: refresh,
            first: RepoConsoleSource.site(checkout: checkout, desired: desired), logger: logger)
        let console = Console(source: repoSource, tokens: tokens, metrics: .shared, logger: logger)
        let address = HostPort(parsing: listen) ?? HostPort(host: "127.0.0.1", port: 8088)
        let (host, port) = (address.host, address.port)
        let mode = tokens == nil ? "read-only" : "actions need a token"
        let output = output
        let app = Application(
            router: console.router(context: BootRequestContext.self),
            server: ListenerLimits().server(),
            configuration: .init(address: .hostname(host, port: port), serverName: "rackswarm-console"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                let url = "http://\(host):\(bound)/"
                do {
                    try output.line("console: \(url) (\(mode))", ListeningStatus(url: url, port: bound, mode: mode))
                } catch {
                    logger.error("cannot write the listening line", metadata: ["error": "\(error)"])
                }
            },
            logger: logger)
        try await app.runService()
    }
}

/// The console's view of a repo: the site loaded again at most every `refresh`, the pending plan from the
/// planner over the store's observed state.
actor RepoConsoleSource: ConsoleDataSource {
    nonisolated let store: any StateStore
    private let source: SiteSource
    private let refresh: Duration
    private let logger: Logger
    private var current: ConsoleSite
    private var loadedAt: ContinuousClock.Instant

    init(source: SiteSource, store: any StateStore, refresh: Duration, first: ConsoleSite, logger: Logger) {
        self.source = source
        self.store = store
        self.refresh = refresh
        self.logger = logger
        current = first
        loadedAt = .now
    }

    static func site(checkout: SiteSource.Checkout, desired: DesiredState) -> ConsoleSite {
        let commit = checkout.commit.map { CommitInfo(sha: $0, author: checkout.author, message: checkout.summary) }
        return ConsoleSite(desired: desired, commit: commit, directory: checkout.directory)
    }

    /// The site as of at most `refresh` ago. A fetch or load that fails keeps the last good site (and logs why).
    func site() async throws -> ConsoleSite {
        guard ContinuousClock.now - loadedAt >= refresh else { return current }
        loadedAt = .now
        do {
            let checkout = try source.checkout()
            let result = SiteLoader.load(path: checkout.directory, relativeTo: checkout.root)
            if let desired = result.state {
                current = Self.site(checkout: checkout, desired: desired)
            } else {
                logger.warning("the site has errors; the console keeps showing the last good commit",
                               metadata: ["diagnostics": "\(result.renderDiagnostics())"])
            }
        } catch {
            logger.warning("cannot fetch the site; the console keeps showing the last good commit",
                           metadata: ["error": "\(error)"])
        }
        return current
    }

    /// On a shared PostgreSQL store, which reconciler holds each rack.
    func rackHolders() async throws -> [String: String]? {
        try await (store as? PostgresStateStore)?.rackHolders()
    }

    /// On a shared PostgreSQL store, where each held rack's nodes are served.
    func rackServers() async throws -> [String: String]? {
        try await (store as? PostgresStateStore)?.rackServers()
    }
}

extension OperatorTokens {
    /// The tokens of `path` for a command, nil without a path; a bad file prints its located error and exits 1.
    static func load(_ path: String?) throws -> OperatorTokens? {
        guard let path else { return nil }
        do {
            return try OperatorTokens(contentsOfFile: path)
        } catch {
            Terminal.standardError.write("\(error.description)\n")
            throw ExitCode.failure
        }
    }
}

/// `--token-file`: who may run the console's actions, for `console` and `apply`.
struct TokenFileOption: ParsableArguments {
    @Option(help: "Operator tokens (NAME:TOKEN per line) that may run actions; without it the console is read-only.")
    var tokenFile: String?

    /// The tokens of the file the flag, the environment or the settings file names; nil without one.
    func load() throws -> OperatorTokens? { try OperatorTokens.load(tokenFile ?? Settings.value("token-file")) }
}
