import ArgumentParser
import Console
import Drivers
import Foundation
import Logging
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

    @Option(help: "Keep converging: a pass now, then one every DURATION (e.g. 30s, 5m) until SIGTERM/SIGINT.")
    var every: String?

    @Flag(help: "Keep converging at the site's interval (spec.interval).")
    var loop = false

    @Option(help: "Address the HTTP server (boot files, tracker, install reports) listens on.")
    var listen: String = "0.0.0.0"

    @Option(help: "Port the initial seed accepts peers on (one more per further image).")
    var seedPort: Int = 6881

    @Option(help: "Attempts per action before a node counts as failed, the first included.")
    var attempts: Int = 5

    @Option(help: "First retry delay; it doubles per retry (with jitter), up to 60 s.")
    var backoff: String = "2s"

    @Option(help: "Operator tokens (NAME:TOKEN per line) for console actions; without it /console is read-only.")
    var tokenFile: String?

    @Option(help: "dnsmasq hosts file for dhcp: managed (default: the TFTP root's parent /dnsmasq-hosts).")
    var dnsmasqHosts: String?

    @Option(help: "dnsmasq's pid file: it gets SIGHUP when the reservations change.")
    var dnsmasqPidFile: String?

    @Option(help: "Accept agent heartbeats on HOST:PORT (serve --report-to); passes skip asking those nodes.")
    var heartbeatListen: String?

    func validate() throws {
        if let every, Duration(parsing: every).map({ $0 > .zero }) != true {
            throw ValidationError("--every takes a duration like 30s, 5m or 1h")
        }
        if dryRun && (every != nil || loop) { throw ValidationError("--dry-run makes one plan; drop --every/--loop") }
        if showBootEntries && (!dryRun || output == .json) {
            throw ValidationError("--show-boot-entries is for --dry-run text output (JSON has every action)")
        }
        if !dryRun && observed != nil { throw ValidationError("--observed is for --dry-run only") }
        guard attempts > 0 else { throw ValidationError("--attempts must be at least 1") }
        if let heartbeatListen, AgentAddress(parsing: heartbeatListen) == nil {
            throw ValidationError("--heartbeat-listen wants HOST:PORT")
        }
        guard Duration(parsing: backoff).map({ $0 > .zero }) == true else {
            throw ValidationError("--backoff takes a duration like 2s")
        }
    }

    func run() async throws {
        // One load at start-up: it refuses a broken site and gives the loop its interval; passes load again.
        let (checkout, desired) = try source.loadSite(refusal: "no plan was made and nothing was applied")
        let interval = every.flatMap { Duration(parsing: $0) } ?? (loop ? desired.site.interval : nil)
        if !dryRun && scope == .all {
            let policy = Executor.Policy(maxAttempts: attempts, baseBackoff: Duration(parsing: backoff) ?? .seconds(2))
            let tokens = try OperatorTokens.load(tokenFile)
            let convergence = Convergence(source: source.source, statePath: state, listenHost: listen,
                                          seedPort: seedPort, policy: policy, tokens: tokens,
                                          dnsmasqHosts: dnsmasqHosts, dnsmasqPidFile: dnsmasqPidFile,
                                          heartbeatListen: heartbeatListen.flatMap(AgentAddress.init(parsing:)),
                                          logger: Logger(label: "rackswarm.reconcile"))
            try await convergence.run(first: (checkout, desired), every: interval)
            return
        }
        if let interval {
            try await runLoop(interval: interval)
            return
        }
        if !dryRun {
            try await Self.convergeServices(desired, commit: checkout.commit, state: state)
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
    /// `--every` / `--loop`: the convergence loop as a service; SIGTERM or SIGINT end it after the pass in flight.
    func runLoop(interval: Duration) async throws {
        let logger = Logger(label: "rackswarm.reconcile")
        let siteSource = source.source
        let state = state
        // Every pass loads the repo again.
        let loop = ReconcileLoop(interval: interval, logger: logger) {
            let checkout = try siteSource.checkout()
            let result = SiteLoader.load(path: checkout.directory, relativeTo: checkout.root)
            guard let desired = result.state else {
                Terminal.standardError.write(result.renderDiagnostics())
                throw ExitCode.failure
            }
            try await Self.convergeServices(desired, commit: checkout.commit, state: state)
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: loop)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// `--scope services`: observe every node's agent, then install, repair and uninstall services as planned.
    static func convergeServices(_ desired: DesiredState, commit: String?, state: String) async throws {
        let logger = Logger(label: "rackswarm.reconcile")
        let key: SiteKey
        do {
            key = try SiteKey(contentsOfFile: desired.site.agent.keyFile)
        } catch {
            Terminal.standardError.write("error: site key \(desired.site.agent.keyFile): \(error.description)\n")
            throw ExitCode.failure
        }
        let store = try SQLiteStateStore(path: state)
        let port = desired.site.agent.port
        let timeout = desired.site.timeouts.services
        let reconciler = ServiceReconciler(desired: desired, store: store, agents: { node in
            ServiceAgentClient(address: AgentAddress(host: node.ip.value.description, port: port), key: key,
                               timeout: timeout, logger: logger)
        }, logger: logger)
        let result = try await reconciler.converge(commit: commit)
        let renderer = PlanRenderer(colour: false)
        print(renderer.text(result.plan, site: desired.site.name, commit: commit), terminator: "")
        for (node, error) in result.unreachable.sorted(by: { $0.key < $1.key }) {
            print("unreachable: \(node): \(error)")
        }
        for (node, error) in result.failed.sorted(by: { $0.key < $1.key }) {
            print("failed: \(node): \(error)")
        }
        print("Done: \(result.actionsDone) of \(result.plan.actions.count) actions, "
              + "\(result.failed.count) node\(result.failed.count == 1 ? "" : "s") failed, "
              + "\(result.unreachable.count) unreachable.")
        if !result.failed.isEmpty || !result.unreachable.isEmpty { throw ExitCode.failure }
    }
}
