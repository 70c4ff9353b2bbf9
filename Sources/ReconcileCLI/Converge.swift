import ArgumentParser
import BootServer
import Console
import Drivers
import Foundation
import Hummingbird
import Logging
import Reconciler
import ReconcilerPostgres
import ReconcilerMetrics
import ServiceLifecycle
import Torrent
import UnixSignals

/// What `reconcile apply` runs: the HTTP server (boot files, tracker, install reports), the initial seed, and
/// passes of fetch → load → observe → plan → execute, once or on a timer. Everything here is composition of
/// library parts; the behaviour lives in Reconciler, Drivers, BootServer and Torrent.
struct Convergence {
    var source: SiteSource
    var statePath: String
    /// Address the HTTP server binds; the site's serverAddress is what nodes use to reach it.
    var listenHost: String
    var seedPort: Int
    var policy: Executor.Policy
    /// Operator tokens for the console's actions; nil keeps the console read-only.
    var tokens: OperatorTokens?
    /// dnsmasq's hosts file and pid file, for `dhcp: managed` sites (defaults: next to the TFTP root; no signal).
    var dnsmasqHosts: String?
    var dnsmasqPidFile: String?
    /// Where agents' heartbeats (`provision-agent serve --report-to`) arrive; nil: every pass asks the agents.
    var heartbeatListen: AgentAddress?
    var logger: Logger
    /// Journal retention from the command line (`--retention`, the environment, the settings file): after each
    /// looped pass, ended entries older than this go (each node keeps its newest). Nil: the site's
    /// `store.retention`, as of the latest commit; neither keeps the whole journal.
    var retention: Duration? = nil
    /// Where the console, its JSON API and `/metrics` listen, apart from the PXE-facing server; nil: not served.
    var consoleListen: HostPort? = nil
    /// The management listener's certificate and key: HTTPS only.
    var consoleTLS: ManagementListener.TLSFiles? = nil
    /// This reconciler's name among several sharing a PostgreSQL store, and how long its rack leases last.
    var shard: String = StateLocation.defaultShard
    var leaseTTL: Duration = .seconds(30)
    /// The host nodes reach this reconciler's boot server, tracker, reports and seed at (`--advertise`); nil: the
    /// site's `serverAddress`. Several reconcilers on one PostgreSQL each advertise their own.
    var advertise: String? = nil

    /// One pass, or passes every `interval` until SIGTERM/SIGINT. A single pass with a stalled or failed node
    /// exits 1, one whose commit is refused for its signature 3 (`exit(_:)`).
    /// `first` is the site as loaded at start-up: the first pass uses it.
    func run(first: (checkout: SiteSource.Checkout, desired: DesiredState), every interval: Duration?) async throws {
        let (checkout, desired) = first
        let site = desired.site
        // A hung database call fails within half a lease, so this reconciler stops acting before its leases lapse.
        let store = try await StateLocation.open(statePath, shard: shard, deadline: max(.seconds(5), leaseTTL / 2))
        // Where nodes reach this reconciler: the entries it writes name it.
        let served = BootServerAddress(host: advertise ?? site.network.serverAddress.description,
                                       httpPort: site.network.httpPort)
        // Several reconcilers on one PostgreSQL: this one acts on the racks it holds by lease, and is a member (may
        // take racks) only once its boot server answers.
        let serving = ReadyGate()
        let keeper = (store as? PostgresStateStore).map {
            RackLeaseKeeper(store: $0, ttl: leaseTTL, address: served.httpBase, logger: logger,
                            ready: { await serving.wait() })
        }
        var holdRacks: (@Sendable (Set<String>) async throws -> Set<String>)?
        if let keeper { holdRacks = { racks in try await keeper.hold(racks) } }
        let key = try Self.siteKey(site)
        let bootDriver = FileBootDriver(tftpRoot: site.boot.tftpRoot, httpRoot: site.boot.httpRoot, server: served,
                                        tokens: InstallTokenMinter(siteKey: key), logger: logger)
        try await bootDriver.writeSiteFiles()
        let desk = InstallDesk(desired: desired, store: store, boot: bootDriver, logger: logger, receiver: shard)
        let siteRetention = LatestRetention(desired.site.store.retention)
        let server = "\(served.host):\(served.httpPort)"
        let tracker = TrackerService(tracker: Tracker(configuration: TrackerConfiguration(
            racksByHost: Self.racksByHost(desired),
            pinnedSeeds: [PeerAddress(host: served.host, port: seedPort)],
            allowedInfoHashes: [],  // Each pass allows the images it seeds (see `images`).
            keepInRack: site.distribution.keepInRack)))
        // The seed announces to this reconciler's tracker; the shared `.torrent` names the site's, the same for all.
        let seeder = ImageSeeder(
            settings: .init(httpRoot: site.boot.httpRoot, trackerURL: "\(served.httpBase)/announce",
                            listenPort: seedPort,
                            torrentAnnounce: "\(BootServerAddress(site.network).httpBase)/announce"),
            logger: logger)
        var http = BootHTTPServer(
            httpRoot: site.boot.httpRoot, logger: logger, tracker: tracker,
            instructions: { await desk.instructions(for: $0) },
            onReport: { node, report in
                do {
                    try await desk.receive(report, from: node)
                } catch is InstallDesk.UnknownNode {
                    throw BootHTTPServer.ReportRejection.unknownNode
                }
            })
        // Instructions and reports need the node's one-time install token (refusals are logged and counted).
        http.authorize = { node, token, client, report in
            await desk.authorize(node: node, token: token, client: client, report: report)
        }
        // With `dhcp: managed`, a node's iPXE script (and its token) only to the address reserved for its MAC.
        http.bootScriptReader = { mac, client in await desk.mayReadBootScript(mac: mac, client: client) }
        let resources = PowerDriverResources()
        let app = http.application(host: listenHost, port: site.network.httpPort) { port in
            logger.info("serving boot files, tracker and install reports", metadata: [
                "listen": "\(listenHost):\(port)", "nodes.see": "\(server)",
            ])
            serving.open()
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
        let rewriter = BootEntryRewriter(desired: desired, driver: bootDriver, logger: logger)
        if let keeper {
            services.append(.init(service: LeaseRenewal(keeper: keeper)))
            if let addressing = Self.bootAddressing(keeper) {
                let rewrites = EntryRewrites(keeper: keeper, rewriter: rewriter, addressing: addressing)
                services.append(.init(service: rewrites))
            }
        }
        var followers: [any PassFollower] = []
        if let management = try managementListener(store: store, desired: desired, checkout: checkout,
                                                   resources: resources) {
            services.append(.init(service: management.app))
            followers.append(management.follower)
        }
        let heartbeats = heartbeatListen.map { _ in
            HeartbeatReceiver(key: key, clock: { Int64(Date().timeIntervalSince1970) })
        }
        let passFollowers = followers
        let pass = ConvergencePass(
            seams: Self.seams(source: source, store: store, bootDriver: bootDriver, resources: resources, key: key,
                              dnsmasqHosts: dnsmasqHosts, dnsmasqPidFile: dnsmasqPidFile,
                              heartbeats: heartbeats, logger: logger,
                              siteChanged: { checkout, desired in
                                  await desk.update(desired)
                                  await rewriter.update(desired)
                                  // A site key rotation: rotated agents' heartbeats carry keys from the new key.
                                  await heartbeats?.use(key: Self.currentKey(desired.site, startUp: key,
                                                                             logger: logger))
                                  await siteRetention.update(desired.site.store.retention)
                                  for follower in passFollowers { await follower.siteLoaded(checkout, desired) }
                                  tracker.updateRacks(Self.racksByHost(desired),
                                                      keepInRack: desired.site.distribution.keepInRack)
                              },
                              images: { desired, checkout in
                                  let wanted = Self.wantedImages(
                                      desired, siteDirectory: checkout.directory, repoRoot: checkout.root)
                                  let refused = await seeder.prepare(wanted)
                                  ReconcilerMetrics.seedImages(serving: wanted.count - refused.count,
                                                               refused: refused.count)
                                  // The tracker serves the images being seeded, and nothing else.
                                  tracker.allow(await seeder.infoHashes())
                                  return refused
                              },
                              blocked: { _, why in
                                  for follower in passFollowers { await follower.commitRefused(why) }
                              },
                              holdRacks: holdRacks, keeper: keeper),
            policy: .init(executor: policy), say: { Terminal.standardOutput.write($0) }, logger: logger)
        let loop: any ServiceLifecycle.Service
        if let interval {
            loop = ReconcileLoop(interval: interval, logger: logger, passRequested: { await pass.passRequested() },
                                 pass: {
                                     _ = try await Self.reported { try await pass.runAnsweringRequests() }
                                     let fromSite = await siteRetention.value
                                     if let retention = retention ?? fromSite {
                                         let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
                                         let kept = Store.Prune.keptPerNode
                                         if let store = store as? SQLiteStateStore {
                                             try await store.pruneJournal(before: cutoff, keepingNewestPerNode: kept)
                                         } else if let store = store as? PostgresStateStore {
                                             try await store.pruneJournal(before: cutoff, keepingNewestPerNode: kept)
                                         }
                                     }
                                 })
        } else {
            loop = OnePass { try await pass.run(desired, checkout: checkout) }
        }
        if let heartbeatListen, let heartbeats {
            let server = ServiceAgentServer(address: heartbeatListen, logger: logger) { await heartbeats.answer($0) }
            services.append(.init(service: HeartbeatListener(server: server, logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(
            services: services + [
                .init(service: loop, successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var failure: (any Error)?
        do {
            try await group.run()
        } catch {
            failure = error
        }
        await seeder.stop()
        await resources.shutdown()
        (store as? PostgresStateStore)?.close()
        if let failure { throw failure }
        if let one = loop as? OnePass { try await Self.exit(one.outcome) }
    }

    /// The exit code of refusing a commit for its signature (`Site.spec.verify`): nothing ran, nothing failed.
    static let refusedCommit = ExitCode(3)

    /// How a single pass ends the process: 1 when a node stalled or failed (or the pass never ended), 3 when the
    /// commit was refused, 0 otherwise — held nodes included, whose "held until" lines the pass printed.
    static func exit(_ outcome: ConvergencePass.Outcome?) throws {
        guard let outcome else { throw ExitCode.failure }
        if outcome.failed { throw ExitCode.failure }
        if outcome.blocked != nil { throw refusedCommit }
    }
}

extension Convergence {
    /// The real world of a pass: the git checkout, the SQLite store, the BMC drivers with the site's timeouts, the
    /// boot files, dnsmasq, the agents, the seed and the heartbeats.
    static func seams(
        source: SiteSource, store: any StateStore, bootDriver: any BootDriver, resources: PowerDriverResources,
        key: SiteKey, dnsmasqHosts: String?, dnsmasqPidFile: String?, heartbeats: HeartbeatReceiver?, logger: Logger,
        siteChanged: @escaping @Sendable (SiteSource.Checkout, DesiredState) async -> Void = { _, _ in },
        images: @escaping @Sendable (DesiredState, SiteSource.Checkout) async -> [String: String] = { _, _ in [:] },
        blocked: @escaping @Sendable (SiteSource.Checkout, String?) async -> Void = { _, _ in },
        holdRacks: (@Sendable (Set<String>) async throws -> Set<String>)? = nil, keeper: RackLeaseKeeper? = nil
    ) -> ConvergencePass.Seams {
        ConvergencePass.Seams(
            checkout: { try source.checkout() }, store: store,
            power: { site in
                PowerDriverRegistry.standard.factory(timeouts: site.timeouts, cipherSuites: site.ipmiCipherSuites,
                                                     resources: resources, logger: logger)
            },
            boot: bootDriver,
            reservations: { site in
                DnsmasqReservations(
                    settings: DnsmasqSettings(site: site, hostsFile: dnsmasqHosts ?? Boot.defaultHostsFile(site)),
                    pidFile: dnsmasqPidFile, logger: logger)
            },
            agents: { site in
                let key = currentKey(site, startUp: key, logger: logger)
                return { node in
                    ServiceAgentClient(address: AgentAddress(host: node.ip.value.description, port: site.agent.port),
                                       key: key.agentKey(forNode: node.name), timeout: site.timeouts.services,
                                       logger: logger)
                }
            },
            rotation: { site in rotation(site, startUp: key, logger: logger) },
            images: images,
            heartbeats: { await heartbeats?.recent(within: 120) ?? [:] },
            siteChanged: siteChanged,
            gate: CommitGate(siteAt: { source.site(atCommit: $0, siteFile: $1) }), blocked: blocked,
            holdRacks: holdRacks, bootAddressing: bootAddressing(keeper))
    }

    /// Writes a refused site's diagnostics to standard error before the pass's error goes on.
    static func reported(_ body: () async throws -> ConvergencePass.Outcome) async throws
        -> ConvergencePass.Outcome
    {
        do {
            return try await body()
        } catch let invalid as ConvergencePass.InvalidSite {
            Terminal.standardError.write(invalid.diagnostics)
            throw invalid
        }
    }

    /// Each node's rack by its address, for the tracker's rack-aware answers.
    static func racksByHost(_ desired: DesiredState) -> [String: String] {
        var racks: [String: String] = [:]
        for node in desired.nodes { racks[node.ip.value.description] = node.rack.value }
        return racks
    }

    /// Every image a present node runs, with the file it comes from.
    static func wantedImages(_ desired: DesiredState, siteDirectory: String, repoRoot: String)
        -> [ImageSeeder.Wanted]
    {
        let httpRoot = desired.site.boot.httpRoot
        let superSeed = !desired.site.distribution.keepInRack
        let used = Set(desired.nodes.filter { $0.state == .present }.map(\.image.value))
        return desired.images.filter { used.contains($0.name) }.compactMap { image in
            let path: String
            switch image.source {
            case .file(let file):
                path = file
            case .url(let url):
                // Downloaded once under the HTTP root, named by what it must hash to.
                return ImageSeeder.Wanted(
                    reference: image.reference, path: "\(httpRoot)/images/.downloads/\(image.sha256.value)",
                    sha256: image.sha256.value, pieceSize: image.pieceSize, shownPath: url,
                    shownExpectation: "\(image.sha256.location)", url: url, superSeed: superSeed)
            }
            let absolute = path.hasPrefix("/") ? path : siteDirectory + "/" + path
            let root = repoRoot.hasSuffix("/") ? repoRoot : repoRoot + "/"
            let shown = absolute.hasPrefix(root) ? String(absolute.dropFirst(root.count)) : absolute
            return ImageSeeder.Wanted(reference: image.reference, path: absolute, sha256: image.sha256.value,
                                      pieceSize: image.pieceSize, shownPath: shown,
                                      shownExpectation: "\(image.sha256.location)", superSeed: superSeed)
        }
    }

    /// A node's power state asked from its BMC for the console's node page (bounded: a slow BMC shows unknown).
    static func powerState(of name: String, in current: CurrentSite, resources: PowerDriverResources,
                           logger: Logger) async -> String? {
        let desired = await current.site.desired
        guard let node = desired.node(named: name),
            let driver = try? PowerDriverRegistry.standard.factory(
                timeouts: desired.site.timeouts, resources: resources, logger: logger)(node)
        else { return nil }
        return try? await driver.powerState().rawValue
    }
}

/// Serves agents' heartbeats until a graceful shutdown.
struct HeartbeatListener: ServiceLifecycle.Service {
    let server: ServiceAgentServer
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await server.run { port in logger.info("listening for heartbeats", metadata: ["port": "\(port)"]) }
            }
        } catch where Task.isShuttingDownGracefully || Task.isCancelled || error is CancellationError {
            // Stopped for the shutdown: not a failure.
        }
    }
}

/// The latest commit's `store.retention`, for the loop's journal pruning.
actor LatestRetention {
    private(set) var value: Duration?

    init(_ value: Duration?) { self.value = value }

    func update(_ value: Duration?) { self.value = value }
}

/// What follows a converging reconciler's passes: each newly loaded site, and whether its commit may drive actions.
protocol PassFollower: Sendable {
    /// A pass loaded a new site.
    func siteLoaded(_ checkout: SiteSource.Checkout, _ desired: DesiredState) async
    /// Why the pass's commit drives nothing (not signed by a trusted key); nil: it may.
    func commitRefused(_ why: String?) async
}

/// The site of the latest pass, for the console.
actor CurrentSite: PassFollower {
    private(set) var site: ConsoleSite

    init(_ site: ConsoleSite) { self.site = site }

    func update(_ site: ConsoleSite) { self.site = site }

    func siteLoaded(_ checkout: SiteSource.Checkout, _ desired: DesiredState) {
        // The refusal belongs to the commit, which `commitRefused` tells right after.
        let blocked = site.blocked
        site = RepoConsoleSource.site(checkout: checkout, desired: desired)
        site.blocked = blocked
    }

    /// The console shows the refusal over the last loaded site.
    func commitRefused(_ why: String?) { site.blocked = why }
}

/// `reconcile apply` without `--every`: one pass, then the server stops. A SIGTERM during the pass lets it
/// finish (every step is journaled) before the process exits.
actor OnePass: ServiceLifecycle.Service {
    let pass: @Sendable () async throws -> ConvergencePass.Outcome
    /// What the pass did; nil until it ended.
    private(set) var outcome: ConvergencePass.Outcome?

    init(_ pass: @escaping @Sendable () async throws -> ConvergencePass.Outcome) {
        self.pass = pass
    }

    func run() async throws {
        outcome = try await pass()
    }
}
