import ArgumentParser
import BootServer
import Console
import Drivers
import Foundation
import Hummingbird
import Logging
import Reconciler
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

    /// One pass, or passes every `interval` until SIGTERM/SIGINT. A single pass with a stalled or failed node
    /// exits 1.
    /// `first` is the site as loaded at start-up: the first pass uses it.
    func run(first: (checkout: SiteSource.Checkout, desired: DesiredState), every interval: Duration?) async throws {
        let (checkout, desired) = first
        let site = desired.site
        let store = try SQLiteStateStore(path: statePath)
        let bootDriver = FileBootDriver(tftpRoot: site.boot.tftpRoot, httpRoot: site.boot.httpRoot,
                                        server: BootServerAddress(site.network), logger: logger)
        try await bootDriver.writeSiteFiles()
        let desk = InstallDesk(desired: desired, store: store, boot: bootDriver, logger: logger)
        let server = "\(site.network.serverAddress):\(site.network.httpPort)"
        let tracker = TrackerService(tracker: Tracker(configuration: TrackerConfiguration(
            racksByHost: Passes.racksByHost(desired),
            pinnedSeeds: [PeerAddress(host: site.network.serverAddress.description, port: seedPort)])))
        let seeder = ImageSeeder(
            settings: .init(httpRoot: site.boot.httpRoot, trackerURL: "http://\(server)/announce",
                            listenPort: seedPort),
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
        let resources = PowerDriverResources()
        // The web console and /metrics on the same server, following the site of the latest pass.
        let current = CurrentSite(RepoConsoleSource.site(checkout: checkout, desired: desired))
        let console = Console(
            source: ClosureConsoleSource(
                store: store, site: { await current.site },
                power: { name in await Self.powerState(of: name, in: current, resources: resources, logger: logger) }),
            tokens: tokens, prefix: "/console", metrics: .shared, logger: logger)
        http.extraRoutes.append { console.addRoutes(to: $0) }
        let app = http.application(host: listenHost, port: site.network.httpPort) { port in
            logger.info("serving boot files, tracker, install reports, the console and metrics", metadata: [
                "listen": "\(listenHost):\(port)", "nodes.see": "\(server)",
                "console": "http://\(server)/console", "metrics": "http://\(server)/metrics",
            ])
        }
        let key: SiteKey
        do {
            key = try SiteKey(contentsOfFile: site.agent.keyFile)
        } catch {
            Terminal.standardError.write("error: site key \(site.agent.keyFile): \(error.description)\n")
            throw ExitCode.failure
        }
        let heartbeats = heartbeatListen.map { _ in
            HeartbeatReceiver(key: key, clock: { Int64(Date().timeIntervalSince1970) })
        }
        let passes = Passes(source: source, store: store, desk: desk, seeder: seeder, tracker: tracker,
                            heartbeats: heartbeats, bootDriver: bootDriver,
                            resources: resources, key: key, policy: policy, current: current,
                            dnsmasqHosts: dnsmasqHosts, dnsmasqPidFile: dnsmasqPidFile, logger: logger)
        let loop: any ServiceLifecycle.Service
        if let interval {
            loop = ReconcileLoop(
                interval: interval, logger: logger,
                passRequested: { (try? await store.passRequest()) != nil },
                pass: {
                    // A request that came before this pass started is answered by it.
                    try await store.clearPassRequest(through: Date())
                    _ = try await passes.run()
                })
        } else {
            loop = OnePass(first: (checkout, desired), passes: passes)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app)]
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
        if let failure { throw failure }
        if let one = loop as? OnePass, await one.outcome.failed { throw ExitCode.failure }
    }
}

/// The passes of one `reconcile apply` process; each loads the repo again.
struct Passes: Sendable {
    var source: SiteSource
    var store: SQLiteStateStore
    var desk: InstallDesk
    var seeder: ImageSeeder
    var tracker: TrackerService
    var heartbeats: HeartbeatReceiver?
    var bootDriver: FileBootDriver
    var resources: PowerDriverResources
    var key: SiteKey
    var policy: Executor.Policy
    var current: CurrentSite
    var dnsmasqHosts: String?
    var dnsmasqPidFile: String?
    var logger: Logger

    func run() async throws -> Executor.Report {
        let checkout = try source.checkout()
        let result = SiteLoader.load(path: checkout.directory, relativeTo: checkout.root)
        guard let desired = result.state else {
            Terminal.standardError.write(result.renderDiagnostics())
            throw PassError("the site at \(checkout.commit.map { String($0.prefix(12)) } ?? "the checkout") has "
                            + "errors; nothing was applied")
        }
        return try await run(desired, checkout: checkout)
    }

    func run(_ desired: DesiredState, checkout: SiteSource.Checkout) async throws -> Executor.Report {
        await desk.update(desired)
        await current.update(RepoConsoleSource.site(checkout: checkout, desired: desired))
        tracker.updateRacks(Self.racksByHost(desired))
        let wanted = wantedImages(desired, siteDirectory: checkout.directory, repoRoot: checkout.root)
        let refused = await seeder.prepare(wanted)
        let site = desired.site
        if site.network.dhcp == .managed {
            // DHCP reservations follow the repo; a failed reload is logged, and the next pass writes them again.
            let settings = DnsmasqSettings(site: site, hostsFile: dnsmasqHosts ?? Boot.defaultHostsFile(site))
            do {
                try await DnsmasqReservations(settings: settings, pidFile: dnsmasqPidFile, logger: logger)
                    .apply(desired.nodes.filter { $0.state == .present }.map(DHCPReservation.init))
            } catch {
                logger.error("DHCP reservations not applied", metadata: ["error": "\(error)"])
            }
        }
        let port = site.agent.port
        let timeout = site.timeouts.services
        let key = key
        let logger = logger
        let agents: ServiceReconciler.AgentFactory = { node in
            ServiceAgentClient(address: AgentAddress(host: node.ip.value.description, port: port), key: key,
                               timeout: timeout, logger: logger)
        }
        // Observe: what the agents of installed nodes run (drift included). A node whose agent does not answer
        // keeps its last status, and its service steps wait for the next pass.
        let installed = Set(try await store.observedState().nodes.filter { $0.value.phase == .ready }.keys)
        let services = ServiceReconciler(desired: desired, store: store, agents: agents, logger: logger)
        // A node whose heartbeat came in the last two minutes, and after the last change recorded for it (an
        // earlier beat may predate its last install), is not asked again.
        var recent: [String: NodeInventory] = [:]
        for (name, beat) in await heartbeats?.recent(within: 120) ?? [:] {
            guard let seen = try await store.nodeRecord(name)?.lastSeen,
                Double(beat.at) > seen.timeIntervalSince1970
            else { continue }
            recent[name] = beat.inventory
        }
        if !recent.isEmpty { say("observed \(recent.count) node\(recent.count == 1 ? "" : "s") from heartbeats") }
        let unreachable = try await services.observe(only: installed, heartbeats: recent)
        let suspended = try await store.suspendedRacks()
        if !suspended.isEmpty { say("suspended by an operator: " + suspended.sorted().joined(separator: ", ")) }
        var plan = Planner.plan(desired: desired, observed: try await store.observedState(),
                                policy: .init(suspendedRacks: suspended))
        let serviceKinds: Set<PlannedAction.Kind> = [.installService, .uninstallService, .verifyServices]
        plan.actions.removeAll { unreachable[$0.node] != nil && serviceKinds.contains($0.kind) }
        // Written straight to the descriptor: the plan shows before the (long) execution, also into a pipe.
        let text = PlanRenderer(colour: false).text(plan, site: site.name, commit: checkout.commit)
        Terminal.standardOutput.write(text)
        let resources = resources
        let performer = DriverActionPerformer(
            desired: desired, store: store, boot: BootActionExecutor(driver: bootDriver, desired: desired),
            power: { node in try Self.powerDriver(for: node, resources: resources, logger: logger) },
            agents: agents, refusedImages: refused, logger: logger)
        let executor = Executor(desired: desired, store: store, performer: performer, policy: policy, logger: logger)
        let report = try await executor.execute(plan, commit: checkout.commit)
        for (node, why) in report.stalled.sorted(by: { $0.key < $1.key }) { say("stalled: \(node): \(why)") }
        for (node, why) in report.failed.sorted(by: { $0.key < $1.key }) { say("failed: \(node): \(why)") }
        for (node, why) in unreachable.sorted(by: { $0.key < $1.key }) { say("unreachable: \(node): \(why)") }
        let converged = "\(report.completed.count) node\(report.completed.count == 1 ? "" : "s") converged"
        say("Done: \(report.actionsDone) of \(plan.actions.count) actions; \(converged), "
            + "\(report.stalled.count) stalled, \(report.failed.count) failed"
            + (report.halted ? "; halted: the failure budget is spent" : "") + ".")
        if report.stalled.isEmpty && report.failed.isEmpty, let commit = checkout.commit {
            try await store.setLastAppliedCommit(commit, at: Date())
        }
        return report
    }

    private func say(_ line: String) { Terminal.standardOutput.write(line + "\n") }

    /// Each node's rack by its address, for the tracker's rack-aware answers.
    static func racksByHost(_ desired: DesiredState) -> [String: String] {
        var racks: [String: String] = [:]
        for node in desired.nodes { racks[node.ip.value.description] = node.rack.value }
        return racks
    }

    /// Every image a present node runs, with the file it comes from.
    func wantedImages(_ desired: DesiredState, siteDirectory: String, repoRoot: String) -> [ImageSeeder.Wanted] {
        let used = Set(desired.nodes.filter { $0.state == .present }.map(\.image.value))
        return desired.images.filter { used.contains($0.name) }.compactMap { image in
            guard case .file(let path) = image.source else { return nil }
            let absolute = path.hasPrefix("/") ? path : siteDirectory + "/" + path
            let root = repoRoot.hasSuffix("/") ? repoRoot : repoRoot + "/"
            let shown = absolute.hasPrefix(root) ? String(absolute.dropFirst(root.count)) : absolute
            return ImageSeeder.Wanted(reference: image.reference, path: absolute, sha256: image.sha256.value,
                                      pieceSize: image.pieceSize, shownPath: shown,
                                      shownExpectation: "\(image.sha256.location)")
        }
    }

    /// The node's BMC driver, its password read now from the reference (as `reconcile power` does).
    static func powerDriver(for node: Node, resources: PowerDriverResources, logger: Logger) throws
        -> any PowerDriver
    {
        guard let secret = node.bmc.password else {
            throw PowerError(.authenticationFailed, bmc: node.bmc.endpoint.value.description,
                             "no BMC password reference for the node")
        }
        let target = PowerTarget(
            name: node.name, url: node.bmc.endpoint.value.description, username: node.bmc.username ?? "admin",
            secret: secret, insecure: node.bmc.insecureSkipVerify, timeout: .seconds(1), retries: 3)
        return try PowerDriverRegistry.standard.driver(for: target.configuration(), resources: resources,
                                                       logger: logger)
    }
}

extension Convergence {
    /// A node's power state asked from its BMC for the console's node page (bounded: a slow BMC shows unknown).
    static func powerState(of name: String, in current: CurrentSite, resources: PowerDriverResources,
                           logger: Logger) async -> String? {
        guard let node = await current.site.desired.node(named: name),
            let driver = try? Passes.powerDriver(for: node, resources: resources, logger: logger)
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

/// The site of the latest pass, for the console.
actor CurrentSite {
    private(set) var site: ConsoleSite

    init(_ site: ConsoleSite) { self.site = site }

    func update(_ site: ConsoleSite) { self.site = site }
}

struct PassError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `reconcile apply` without `--every`: one pass, then the server stops. A SIGTERM during the pass lets it
/// finish (every step is journaled) before the process exits.
actor OnePass: ServiceLifecycle.Service {
    let first: (SiteSource.Checkout, DesiredState)
    let passes: Passes
    private(set) var outcome = (failed: true, report: Executor.Report?.none)

    init(first: (SiteSource.Checkout, DesiredState), passes: Passes) {
        self.first = first
        self.passes = passes
    }

    func run() async throws {
        let report = try await passes.run(first.1, checkout: first.0)
        outcome = (!report.failed.isEmpty || !report.stalled.isEmpty, report)
    }
}
