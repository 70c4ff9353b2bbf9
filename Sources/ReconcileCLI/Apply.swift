import ArgumentParser
import BootServer
import CommandLineSupport
import Console
import Drivers
import Foundation
import Logging
import RackswarmCore
import Reconciler
import ReconcilerPostgres
import ServiceLifecycle
import UnixSignals

extension Planner.Policy.Scope: ExpressibleByArgument {}

/// `reconcile [--dry-run]`: plan the changes that converge the site, and apply them (once, or on a timer).
struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Converge the site to the repo. With --dry-run, print every physical action instead.",
        discussion: """
            A single pass exits 0 when nothing failed (nodes a maintenance window held are listed as "held: NODE: \
            held until …" and are no failure), 1 when a node stalled or failed, and 3 when the commit is not \
            signed by a trusted key (Site.spec.verify): nothing ran, and the reason is printed.
            """)

    @Flag(help: "The same as `reconcile plan`: print the plan and exit: 0 in sync, 2 changes pending, 1 error.")
    var dryRun = false

    @Flag(name: [.short, .long], help: "Apply destructive actions (power cycles, reimages) without asking.")
    var yes = false

    @OptionGroup var source: SourceOptions

    @Option(help: """
        State database: a SQLite file, or postgres://USER@HOST:PORT/DB?password=env:NAME (or file:PATH) shared by \
        several reconcilers, each acting on the racks it holds by lease.
        """)
    var state: String = Settings.value("state", ".rackswarm/state.db")

    @Option(help: "This reconciler's name among those sharing a PostgreSQL state (default: the host name).")
    var shardId: String = Settings.value("shard-id", StateLocation.defaultShard)

    @Option(help: .duration("How long a rack lease lasts unrenewed (PostgreSQL state); renewed every third of it."),
            transform: Quantity.durationFlag(in: .seconds(2) ... .seconds(3600)))
    var leaseTtl: Duration = .seconds(30)

    @Option(help: "Plan against this observed state (JSON) instead of the state database: a what-if preview.")
    var observed: String?

    @OptionGroup var output: OutputOptions

    @Flag(help: "With --dry-run text output, print each node's boot entry instead of groups of like entries.")
    var showBootEntries = false

    @Option(help: "What a pass may change: all, or services (only services on nodes whose agent answers).")
    var scope: Planner.Policy.Scope = .all

    @Option(help: .duration("Keep converging: a pass now, then one every DURATION (e.g. 30s, 5m) until stopped."),
            transform: Quantity.durationFlag())
    var every: Duration?

    @Flag(help: "Keep converging at the site's interval (spec.interval).")
    var loop = false

    @Option(help: "Address the HTTP server (boot files, tracker, install reports) listens on.")
    var listen: String = Settings.value("listen", "0.0.0.0")

    @Option(help: """
        The host nodes reach this reconciler at (boot files, tracker, reports, seed; the site's httpPort): the boot \
        entries it writes name it. Default: the site's serverAddress. Several reconcilers on one PostgreSQL each \
        need their own, and each host's dnsmasq offers it as next-server (`boot dnsmasq-config --advertise`).
        """)
    var advertise: String? = Settings.value("advertise")

    @Option(help: "Port the initial seed accepts peers on (one more per further image).")
    var seedPort: Int = Settings.integer("seed-port", 6881)

    @Option(help: "Attempts per action before a node counts as failed, the first included.")
    var attempts: Int = Settings.integer("attempts", 5)

    @Option(help: .duration("First retry delay; it doubles per retry (with jitter), up to 60 s."),
            transform: Quantity.durationFlag(in: .milliseconds(1) ... .seconds(60)))
    var backoff: Duration = .seconds(2)

    @OptionGroup var tokens: TokenFileOption

    @Option(help: """
        Serve the console, its JSON API and /metrics on HOST:PORT, a listener of their own (the PXE-facing one \
        serves boot files, the tracker and install reports only). Without it they are not served.
        """)
    var consoleListen: String?

    @Option(name: .customLong("console-tls-cert"),
            help: "PEM certificate chain: --console-listen speaks HTTPS only (with --console-tls-key).")
    var consoleTLSCert: String?

    @Option(name: .customLong("console-tls-key"), help: "PEM private key of --console-tls-cert.")
    var consoleTLSKey: String?

    @OptionGroup var dnsmasq: DnsmasqOptions

    @Option(help: "Accept agent heartbeats on HOST:PORT (serve --report-to); passes skip asking those nodes.")
    var heartbeatListen: String?

    @Option(help: .duration(
        "With --loop/--every: after each pass, prune ended journal entries older than this (e.g. 30d).",
        discussion: "Default: the site's store.retention; without either the journal is kept whole."),
            transform: Quantity.durationFlag())
    var retention: Duration?

    @OptionGroup var logging: LoggingOptions

    mutating func validate() throws {
        if dryRun && (every != nil || loop) { throw ValidationError("--dry-run makes one plan; drop --every/--loop") }
        // The settings file's retention, read now so that a malformed one is reported before anything starts.
        retention = retention ?? Settings.duration("retention")
        if showBootEntries && (!dryRun || output.output == .json) {
            throw ValidationError("--show-boot-entries is for --dry-run text output (JSON has every action)")
        }
        if !dryRun && observed != nil { throw ValidationError("--observed is for --dry-run only") }
        guard (1...1000).contains(attempts) else { throw ValidationError("--attempts must be between 1 and 1000") }
        if let advertise, advertise.isEmpty || advertise.contains(where: { $0 == "/" || $0 == " " }) {
            throw ValidationError("--advertise wants a host name or address, got '\(advertise)'")
        }
        guard (1...65535).contains(seedPort) else { throw ValidationError("--seed-port must be between 1 and 65535") }
        if let listen = consoleListen ?? Settings.value("console-listen"), HostPort(parsing: listen) == nil {
            throw ValidationError("--console-listen wants HOST:PORT")
        }
        if (consoleTLSCert == nil) != (consoleTLSKey == nil) {
            throw ValidationError("--console-tls-cert and --console-tls-key go together")
        }
        if consoleTLSCert != nil && (consoleListen ?? Settings.value("console-listen")) == nil {
            throw ValidationError("--console-tls-cert is for --console-listen")
        }
        if let heartbeatListen = heartbeatListen ?? Settings.value("heartbeat-listen"),
            AgentAddress(parsing: heartbeatListen) == nil {
            throw ValidationError("--heartbeat-listen wants HOST:PORT")
        }
    }

    func run() async throws {
        // One load at start-up: it refuses a broken site and gives the loop its interval; passes load again.
        let (checkout, desired) = try source.loadSite(refusal: "no plan was made and nothing was applied")
        let interval = every ?? (loop ? desired.site.interval : nil)
        if dryRun {
            let site = source.source
            try await PlanCommand.print(desired, checkout: checkout, state: state, observed: observed, scope: scope,
                                        output: output, showBootEntries: showBootEntries,
                                        gate: CommitGate(siteAt: { site.site(atCommit: $0, siteFile: $1) }))
            return
        }
        if interval == nil { try await confirm(desired) }
        if scope == .all {
            let policy = Executor.Policy(maxAttempts: attempts, baseBackoff: backoff)
            let tokens = try self.tokens.load()
            let convergence = Convergence(source: source.source, statePath: state, listenHost: listen,
                                          seedPort: seedPort, policy: policy, tokens: tokens,
                                          dnsmasqHosts: dnsmasq.hosts.given, dnsmasqPidFile: dnsmasq.pidFile,
                                          heartbeatListen: (heartbeatListen ?? Settings.value("heartbeat-listen"))
                                              .flatMap(AgentAddress.init(parsing:)),
                                          logger: Logger(label: "rackswarm.reconcile"),
                                          retention: retention,
                                          consoleListen: (consoleListen ?? Settings.value("console-listen"))
                                              .flatMap { HostPort(parsing: $0) },
                                          consoleTLS: consoleTLSCert.flatMap { cert in
                                              consoleTLSKey.map { .init(certificate: cert, privateKey: $0) }
                                          },
                                          shard: shardId, leaseTTL: leaseTtl, advertise: advertise)
            try await convergence.run(first: (checkout, desired), every: interval)
            return
        }
        try await convergeServices(first: (checkout, desired), every: interval)
    }
}

extension Apply {
    /// `--scope services`: the convergence pass with the services policy — every present node's agent is asked,
    /// and services are installed, repaired and uninstalled as planned; no BMC, boot entry or image is touched.
    /// Once, or every `interval` until SIGTERM/SIGINT (the pass in flight finishes).
    func convergeServices(first: (checkout: SiteSource.Checkout, desired: DesiredState), every interval: Duration?)
        async throws
    {
        let logger = Logger(label: "rackswarm.reconcile")
        let site = first.desired.site
        let key = try Convergence.siteKey(site)
        // On a shared store, services are fenced like every other step: this reconciler plans and journals only on
        // the racks it holds by lease.
        let store = try await StateLocation.open(state, shard: shardId, deadline: max(.seconds(5), leaseTtl / 2))
        let keeper = (store as? PostgresStateStore).map {
            RackLeaseKeeper(store: $0, ttl: leaseTtl, address: nil, logger: logger)
        }
        var holdRacks: (@Sendable (Set<String>) async throws -> Set<String>)?
        if let keeper { holdRacks = { racks in try await keeper.hold(racks) } }
        // A services pass touches no BMC; the resources are there because the pass's seams are the same.
        let resources = PowerDriverResources()
        let boot = FileBootDriver(tftpRoot: site.boot.tftpRoot, httpRoot: site.boot.httpRoot,
                                  server: BootServerAddress(site.network), tokens: InstallTokenMinter(siteKey: key),
                                  logger: logger)
        let policy = Executor.Policy(maxAttempts: attempts, baseBackoff: backoff)
        let pass = ConvergencePass(
            seams: Convergence.seams(source: source.source, store: store, bootDriver: boot, resources: resources,
                                     key: key, dnsmasqHosts: nil, dnsmasqPidFile: nil, heartbeats: nil,
                                     logger: logger, holdRacks: holdRacks),
            policy: .init(scope: .services, executor: policy), say: { Terminal.standardOutput.write($0) },
            logger: logger)
        var outcome: ConvergencePass.Outcome?
        do {
            if let interval {
                let loop = ReconcileLoop(interval: interval, logger: logger) {
                    _ = try await Convergence.reported { try await pass.run() }
                }
                var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: loop)]
                if let keeper { services.append(.init(service: LeaseRenewal(keeper: keeper))) }
                let group = ServiceGroup(configuration: .init(
                    services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
                try await group.run()
                return await resources.shutdown()
            } else {
                outcome = try await pass.run(first.desired, checkout: first.checkout)
                try? await keeper?.store.leave()
            }
        } catch {
            await resources.shutdown()
            throw error
        }
        await resources.shutdown()
        try Convergence.exit(outcome)
    }
}
