import ArgumentParser
import Console
import Drivers
import Foundation
import Logging
import RackswarmCore
import Reconciler
import ServiceLifecycle
import UnixSignals

extension Planner.Policy.Scope: ExpressibleByArgument {}

/// `reconcile [--dry-run]`: plan the changes that converge the site, and apply them (once, or on a timer).
struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Converge the site to the repo. With --dry-run, print every physical action instead.")

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case text
        case json
    }

    @Flag(help: "Print the plan and exit: 0 in sync, 2 changes pending, 1 error.")
    var dryRun = false

    @OptionGroup var source: SourceOptions

    @Option(help: "State database (observed status and journal).")
    var state: String = ".rackswarm/state.db"

    @Option(help: "Plan against this observed state (JSON) instead of the state database: a what-if preview.")
    var observed: String?

    @Option(help: "Output format.")
    var output: Output = .text

    @Flag(help: "With --dry-run text output, print each node's boot entry instead of groups of like entries.")
    var showBootEntries = false

    @Option(help: "What a pass may change: all, or services (only services on nodes whose agent answers).")
    var scope: Planner.Policy.Scope = .all

    @Option(help: "Keep converging: a pass now, then one every DURATION (e.g. 30s, 5m) until SIGTERM/SIGINT.",
            transform: Quantity.durationFlag())
    var every: Duration?

    @Flag(help: "Keep converging at the site's interval (spec.interval).")
    var loop = false

    @Option(help: "Address the HTTP server (boot files, tracker, install reports) listens on.")
    var listen: String = "0.0.0.0"

    @Option(help: "Port the initial seed accepts peers on (one more per further image).")
    var seedPort: Int = 6881

    @Option(help: "Attempts per action before a node counts as failed, the first included.")
    var attempts: Int = 5

    @Option(help: "First retry delay; it doubles per retry (with jitter), up to 60 s.",
            transform: Quantity.durationFlag(in: .milliseconds(1) ... .seconds(60)))
    var backoff: Duration = .seconds(2)

    @Option(help: "Operator tokens (NAME:TOKEN per line) for console actions; without it /console is read-only.")
    var tokenFile: String?

    @Option(help: "dnsmasq hosts file for dhcp: managed (default: the TFTP root's parent /dnsmasq-hosts).")
    var dnsmasqHosts: String?

    @Option(help: "dnsmasq's pid file: it gets SIGHUP when the reservations change.")
    var dnsmasqPidFile: String?

    @Option(help: "Accept agent heartbeats on HOST:PORT (serve --report-to); passes skip asking those nodes.")
    var heartbeatListen: String?

    func validate() throws {
        if dryRun && (every != nil || loop) { throw ValidationError("--dry-run makes one plan; drop --every/--loop") }
        if showBootEntries && (!dryRun || output == .json) {
            throw ValidationError("--show-boot-entries is for --dry-run text output (JSON has every action)")
        }
        if !dryRun && observed != nil { throw ValidationError("--observed is for --dry-run only") }
        guard (1...1000).contains(attempts) else { throw ValidationError("--attempts must be between 1 and 1000") }
        guard (1...65535).contains(seedPort) else { throw ValidationError("--seed-port must be between 1 and 65535") }
        if let heartbeatListen, AgentAddress(parsing: heartbeatListen) == nil {
            throw ValidationError("--heartbeat-listen wants HOST:PORT")
        }
    }

    func run() async throws {
        // One load at start-up: it refuses a broken site and gives the loop its interval; passes load again.
        let (checkout, desired) = try source.loadSite(refusal: "no plan was made and nothing was applied")
        let interval = every ?? (loop ? desired.site.interval : nil)
        if !dryRun && scope == .all {
            let policy = Executor.Policy(maxAttempts: attempts, baseBackoff: backoff)
            let tokens = try OperatorTokens.load(tokenFile)
            let convergence = Convergence(source: source.source, statePath: state, listenHost: listen,
                                          seedPort: seedPort, policy: policy, tokens: tokens,
                                          dnsmasqHosts: dnsmasqHosts, dnsmasqPidFile: dnsmasqPidFile,
                                          heartbeatListen: heartbeatListen.flatMap(AgentAddress.init(parsing:)),
                                          logger: Logger(label: "rackswarm.reconcile"))
            try await convergence.run(first: (checkout, desired), every: interval)
            return
        }
        if !dryRun {
            try await convergeServices(first: (checkout, desired), every: interval)
            return
        }
        var observedState = ObservedState()
        if observed == nil, let store = try SQLiteStateStore.openExisting(path: state) {
            observedState = try await store.observedState()
        }
        if let observed {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: observed))
                observedState = try JSONDecoder().decode(ObservedState.self, from: data)
            } catch {
                Terminal.standardError.write("error: cannot read observed state \(observed): \(error)\n")
                throw ExitCode.failure
            }
        }
        let plan = Planner.plan(desired: desired, observed: observedState, policy: .init(scope: scope))
        let renderer = PlanRenderer(colour: output == .text && Terminal.standardOutput.isTerminal)
        var out = BufferedStandardOutput()
        switch output {
        case .text:
            renderer.text(plan, site: desired.site.name, commit: checkout.commit, to: &out)
            BootEntryPreview.text(plan: plan, desired: desired, everyEntry: showBootEntries, to: &out)
        case .json: renderer.json(plan, site: desired.site.name, commit: checkout.commit, to: &out)
        }
        out.flush()
        Terminal.finish(plan.isEmpty ? 0 : 2)
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
        let key: SiteKey
        do {
            key = try SiteKey(contentsOfFile: site.agent.keyFile)
        } catch {
            Terminal.standardError.write("error: site key \(site.agent.keyFile): \(error.description)\n")
            throw ExitCode.failure
        }
        let store = try SQLiteStateStore(path: state)
        // A services pass touches no BMC; the resources are there because the pass's seams are the same.
        let resources = PowerDriverResources()
        let boot = FileBootDriver(tftpRoot: site.boot.tftpRoot, httpRoot: site.boot.httpRoot,
                                  server: BootServerAddress(site.network), logger: logger)
        let policy = Executor.Policy(maxAttempts: attempts, baseBackoff: backoff)
        let pass = ConvergencePass(
            seams: Convergence.seams(source: source.source, store: store, bootDriver: boot, resources: resources,
                                     key: key, dnsmasqHosts: nil, dnsmasqPidFile: nil, heartbeats: nil,
                                     logger: logger),
            policy: .init(scope: .services, executor: policy), say: { Terminal.standardOutput.write($0) },
            logger: logger)
        let failed: Bool
        do {
            if let interval {
                let loop = ReconcileLoop(interval: interval, logger: logger) {
                    _ = try await Convergence.reported { try await pass.run() }
                }
                let group = ServiceGroup(configuration: .init(
                    services: [.init(service: loop)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
                try await group.run()
                failed = false
            } else {
                failed = try await pass.run(first.desired, checkout: first.checkout).failed
            }
        } catch {
            await resources.shutdown()
            throw error
        }
        await resources.shutdown()
        if failed { throw ExitCode.failure }
    }
}
