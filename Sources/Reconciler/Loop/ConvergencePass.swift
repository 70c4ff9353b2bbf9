import Drivers
import Foundation
import Logging
import MemberwiseInit

/// One pass of convergence: observe → plan → execute → record. Everything it touches comes in through `Seams`, so
/// a test runs every branch with fakes; `reconcile apply` wires the real drivers.
///
/// - Observe: the DHCP reservations follow the repo (managed DHCP), the images present nodes run are prepared
///   (a refused image stalls its nodes), the agents of installed nodes say what they run — a fresh heartbeat
///   stands in for asking — and a node whose agent does not answer keeps its status, its service steps waiting for
///   a later pass.
/// - Plan: the pure planner, with the racks an operator suspended left alone.
/// - Execute: the one `Executor` over `DriverActionPerformer`.
/// - Record: a pass that left no node stalled or failed records its commit as applied.
///
/// The services scope (`reconcile --scope services`) is a policy of the same pass: it asks every present node's
/// agent, plans only service changes for the nodes that answered, and touches no DHCP, image or BMC.
public struct ConvergencePass: Sendable {
    /// The world a pass reads and changes.
    @PublicMemberwiseInit
    public struct Seams: Sendable {
        /// Fetches the site: a checkout of the repo at its ref.
        public var checkout: @Sendable () throws -> SiteSource.Checkout
        public var store: any StateStore
        /// Makes the power-driver factory for a site (its BMC timeouts and retries).
        public var power: @Sendable (Site) -> DriverActionPerformer.PowerFactory
        public var boot: any BootDriver
        /// The DHCP server's reservations for a managed-DHCP site.
        public var reservations: @Sendable (Site) -> any DHCPReservationDriver
        /// Makes the agent-client factory for a site (its agent port and timeout).
        public var agents: @Sendable (Site) -> ServiceReconciler.AgentFactory
        /// Makes the rotation-client factory for a site (its `agent.previousKeyFile`); nil clients without one.
        public var rotation: @Sendable (Site) -> ServiceReconciler.RotationFactory = { _ in { _ in nil } }
        /// Gets the images present nodes run ready to serve (seeding); answers the refused ones by `name@version`,
        /// with why.
        public var images: @Sendable (DesiredState, SiteSource.Checkout) async -> [String: String] = { _, _ in [:] }
        /// Recent heartbeats by node: the inventory each sent and when, in seconds since 1970.
        public var heartbeats: @Sendable () async -> [String: (inventory: NodeInventory, at: Int64)] = { [:] }
        public var now: @Sendable () -> Date = { Date() }
        /// Told each pass's site before anything is done (the install desk, the console and the tracker follow it).
        public var siteChanged: @Sendable (SiteSource.Checkout, DesiredState) async -> Void = { _, _ in }
        /// Judges whether the commit may drive actions (the site's `verify`).
        public var gate: CommitGate = CommitGate()
        /// Told, every pass, why its commit may not drive actions (nil when it may): the console shows it.
        public var blocked: @Sendable (SiteSource.Checkout, String?) async -> Void = { _, _ in }
        /// When several reconcilers share the store: given every rack of the site, takes this reconciler's share of
        /// the leases and answers the racks it may act on in this pass. Nil: one reconciler acts on every rack.
        public var holdRacks: (@Sendable (Set<String>) async throws -> Set<String>)?
        /// With several reconcilers: where this one's boot entries send nodes (its own address, the others' as
        /// fallbacks). Nil, or nil answered: the site's `serverAddress`.
        public var bootAddressing: (@Sendable () async -> BootAddressing?)? = nil
    }

    /// What a pass may do and how hard it tries.
    @PublicMemberwiseInit
    public struct Policy: Sendable {
        /// `all` converges everything; `services` only services, on nodes whose agent answers.
        public var scope: Planner.Policy.Scope = .all
        public var executor: Executor.Policy = .init()
        /// How old a heartbeat may be and still stand in for asking the node's agent.
        public var heartbeatFreshness: Duration = .seconds(120)
    }

    /// What one pass did.
    public struct Outcome: Sendable {
        public var plan: Plan
        public var report: Executor.Report
        /// Nodes whose agent could not be asked, with why.
        public var unreachable: [String: String]
        public var scope: Planner.Policy.Scope
        /// Why nothing ran: the commit is not signed by a trusted key; nil when it may drive actions.
        public var blocked: String? = nil

        /// True when a node stalled or failed — or, for a services pass, could not be asked. Neither a node a
        /// maintenance window held nor a commit refused for its signature is a failure: nothing broke, the site's
        /// policy said "not now" or "not this commit" (`blocked` tells the second apart).
        public var failed: Bool {
            !report.failed.isEmpty || !report.stalled.isEmpty || (scope == .services && !unreachable.isEmpty)
        }
    }

    /// The site at a checkout has errors: nothing was applied.
    public struct InvalidSite: Error, CustomStringConvertible {
        /// The loader's diagnostics, rendered compiler-style.
        public var diagnostics: String
        public var commit: String?

        public var description: String {
            "the site at \(commit.map { String($0.prefix(12)) } ?? "the checkout") has errors; nothing was applied"
        }
    }

    public let seams: Seams
    public let policy: Policy
    /// Where the plan and the pass's summary lines go (standard output for the CLI).
    public let say: @Sendable (String) -> Void
    public let logger: Logger

    public init(seams: Seams, policy: Policy, say: @escaping @Sendable (String) -> Void, logger: Logger) {
        self.seams = seams
        self.policy = policy
        self.say = say
        self.logger = logger
    }

    /// Fetches and loads the site, then runs the pass on it; throws `InvalidSite` for a site with errors.
    public func run() async throws -> Outcome {
        let checkout = try seams.checkout()
        let result = SiteLoader.load(path: checkout.directory, relativeTo: checkout.root)
        guard let desired = result.state else {
            throw InvalidSite(diagnostics: result.renderDiagnostics(), commit: checkout.commit)
        }
        return try await run(desired, checkout: checkout)
    }

    /// A pass an operator asked for (console or API) before this one started is answered by it.
    public func runAnsweringRequests() async throws -> Outcome {
        try await seams.store.clearPassRequest(through: seams.now())
        return try await run()
    }

    /// True when an operator asked for a pass that has not run yet.
    public func passRequested() async -> Bool { (try? await seams.store.passRequest()) != nil }

    /// Runs the pass on a loaded site.
    ///
    /// A commit the site's `verify` refuses is planned and shown, and nothing else happens: no boot file, DHCP
    /// reservation, agent or BMC is touched, and the plan says why. Maintenance windows hold the nodes whose actions
    /// may not start now; the executor checks them again before each node, so a window that closes mid-wave lets
    /// the nodes in flight finish and starts no other.
    public func run(_ desired: DesiredState, checkout: SiteSource.Checkout) async throws -> Outcome {
        let everything = policy.scope == .all
        let lastApplied = try await seams.store.lastAppliedCommit()
        let blocked = await seams.gate.refusal(checkout, site: desired.site, lastApplied: lastApplied)
        await seams.blocked(checkout, blocked)
        if let blocked {
            logger.warning("commit refused; nothing runs", metadata: [
                "commit": "\(checkout.commit ?? "-")", "error.code": "untrustedCommit", "error": "\(blocked)",
            ])
            var plan = Planner.plan(desired: desired, observed: try await seams.store.observedState(),
                                    policy: .init(scope: policy.scope))
            plan.blocked = blocked
            say(PlanRenderer(colour: false).text(plan, site: desired.site.name, commit: checkout.commit))
            let outcome = Outcome(plan: plan, report: .init(), unreachable: [:], scope: policy.scope, blocked: blocked)
            say("Nothing ran: \(blocked).\n")
            return outcome
        }
        await seams.siteChanged(checkout, desired)
        let refused = everything ? await seams.images(desired, checkout) : [:]
        if everything { await applyReservations(desired) }
        // Racks are held before any agent is asked: another reconciler's nodes are its to ask and record.
        let held = try await holdRacks(desired)
        let observation = try await observeAgents(desired, held: held)
        let unreachable = observation.unreachable
        let now = seams.now()
        let windows = MaintenanceGate(desired, at: now)
        let plan = windows.marking(try await makePlan(desired, observation: observation, held: held), at: now)
        say(PlanRenderer(colour: false).text(plan, site: desired.site.name, commit: checkout.commit))
        var executorPolicy = policy.executor
        executorPolicy.scope = policy.scope
        executorPolicy.racks = held
        let boot = BootActionExecutor(driver: seams.boot, desired: desired, addressing: await seams.bootAddressing?())
        let performer = DriverActionPerformer(
            desired: desired, store: seams.store, boot: boot,
            power: seams.power(desired.site), agents: seams.agents(desired.site),
            rotation: seams.rotation(desired.site), refusedImages: refused, logger: logger)
        let executor = Executor(desired: desired, store: seams.store, performer: performer, policy: executorPolicy,
                                logger: logger, now: seams.now, windows: windows)
        let report = try await executor.execute(plan, commit: checkout.commit)
        let outcome = Outcome(plan: plan, report: report, unreachable: unreachable, scope: policy.scope)
        summarize(outcome)
        if everything && !outcome.failed, let commit = checkout.commit {
            try await seams.store.setLastAppliedCommit(commit, at: seams.now())
        }
        return outcome
    }

    /// DHCP reservations follow the repo; a failed reload is logged, and the next pass writes them again.
    ///
    /// A node that left the repo keeps its reservation while a prune is to erase its disks: the install
    /// environment it is booted into for the erase needs an address (without one, the node's firmware gives up on
    /// PXE and boots its old system from disk). The reservation goes once the node is decommissioned.
    private func applyReservations(_ desired: DesiredState) async {
        guard desired.site.network.dhcp == .managed else { return }
        do {
            let present = desired.nodes.filter { $0.state == .present }
            var reservations = present.map(DHCPReservation.init)
            if desired.site.prune && desired.site.decommission.erase != .none {
                let names = Set(present.map(\.name))
                let taken = Set(reservations.map(\.mac) + reservations.map(\.ip))
                let observed = try await seams.store.observedState().nodes
                reservations += try await seams.store.rememberedNodes().values
                    .filter { !names.contains($0.name) && observed[$0.name]?.phase != .decommissioned }
                    .map { DHCPReservation($0.node) }
                    .filter { !taken.contains($0.mac) && !taken.contains($0.ip) }
                    .sorted { $0.node < $1.node }
            }
            try await seams.reservations(desired.site).apply(reservations)
        } catch {
            logger.error("DHCP reservations not applied", metadata: ["error": "\(error)"])
        }
    }

    /// Asks the agents what they run; says which nodes could not be asked, with why, and which hold their key from
    /// the previous site key. A full pass asks only installed nodes, and not those whose heartbeat came recently
    /// and after the last change recorded for them (an earlier beat may predate their last install); a services
    /// pass asks every present node. With `held` racks (a shared store), only the nodes on them are asked, and only
    /// their status is written.
    private func observeAgents(_ desired: DesiredState, held: Set<String>?) async throws
        -> ServiceReconciler.Observation
    {
        let store = seams.store
        let services = ServiceReconciler(desired: desired, store: store, agents: seams.agents(desired.site),
                                         rotation: seams.rotation(desired.site), logger: logger, now: seams.now)
        let mine = held.map { racks in Set(desired.nodes.filter { racks.contains($0.rack.value) }.map(\.name)) }
        guard policy.scope == .all else { return try await services.observe(only: mine) }
        var installed = Set(try await store.observedState().nodes.filter { $0.value.phase == .ready }.keys)
        if let mine { installed.formIntersection(mine) }
        var recent: [String: NodeInventory] = [:]
        let freshness = Int64(policy.heartbeatFreshness.components.seconds)
        let oldest = Int64(seams.now().timeIntervalSince1970) - freshness
        for (name, beat) in await seams.heartbeats() where beat.at >= oldest && mine?.contains(name) ?? true {
            guard let seen = try await store.nodeRecord(name)?.lastSeen, Double(beat.at) > seen.timeIntervalSince1970
            else { continue }
            recent[name] = beat.inventory
        }
        if !recent.isEmpty { say("observed \(recent.count) node\(recent.count == 1 ? "" : "s") from heartbeats\n") }
        return try await services.observe(only: installed, heartbeats: recent)
    }

    /// The racks this reconciler may act on in this pass (nil: all): its share of the site's racks, those of
    /// the repo and those nodes that left it are still recorded on.
    private func holdRacks(_ desired: DesiredState) async throws -> Set<String>? {
        guard let hold = seams.holdRacks else { return nil }
        var racks = Set(desired.racks.map(\.name))
        for status in try await seams.store.observedState().nodes.values {
            if let rack = status.rack { racks.insert(rack) }
        }
        let held = try await hold(racks)
        say("holding \(held.count) of \(racks.count) racks: " + held.sorted().joined(separator: ", ") + "\n")
        return held
    }

    /// Plans against what the store observed. Nodes nobody could ask get no service steps (a services pass plans
    /// nothing for them) but their rekey; racks an operator suspended get nothing, nor racks another reconciler
    /// holds.
    private func makePlan(_ desired: DesiredState, observation: ServiceReconciler.Observation, held: Set<String>?)
        async throws -> Plan
    {
        let unreachable = observation.unreachable
        var observed = try await seams.store.observedState()
        guard policy.scope == .all else {
            observed.nodes = observed.nodes.filter { unreachable[$0.key] == nil }
            var plan = Planner.plan(desired: desired, observed: observed,
                                    policy: .init(scope: .services, rekey: observation.rekey))
            // Services on another reconciler's racks are its to install.
            if let held { plan.actions.removeAll { !held.contains($0.rack) } }
            return plan
        }
        let suspended = try await seams.store.suspendedRacks()
        if !suspended.isEmpty { say("suspended by an operator: " + suspended.sorted().joined(separator: ", ") + "\n") }
        // Another reconciler's racks are left alone the way suspended ones are: no action is planned on them.
        let others = held.map { held in
            Set(desired.racks.map(\.name) + observed.nodes.values.compactMap(\.rack)).subtracting(held)
        } ?? []
        var plan = Planner.plan(desired: desired, observed: observed,
                                policy: .init(suspendedRacks: suspended.union(others), rekey: observation.rekey))
        let serviceKinds: Set<PlannedAction.Kind> = [.installService, .uninstallService, .verifyServices]
        plan.actions.removeAll { unreachable[$0.node] != nil && serviceKinds.contains($0.kind) }
        return plan
    }

    /// The pass's closing lines: who stalled, failed or could not be asked, and the count.
    private func summarize(_ outcome: Outcome) {
        let report = outcome.report
        func lines(_ label: String, _ byNode: [String: String]) {
            for (node, why) in byNode.sorted(by: { $0.key < $1.key }) { say("\(label): \(node): \(why)\n") }
        }
        let total = outcome.plan.actions.count
        guard outcome.scope == .all else {
            let failed = report.failed.merging(report.stalled) { first, _ in first }
            lines("unreachable", outcome.unreachable)
            lines("failed", failed)
            say("Done: \(report.actionsDone) of \(total) actions, \(failed.count) node\(failed.count == 1 ? "" : "s") "
                + "failed, \(outcome.unreachable.count) unreachable.\n")
            return
        }
        lines("held", report.held)
        lines("stalled", report.stalled)
        lines("failed", report.failed)
        lines("unreachable", outcome.unreachable)
        let converged = "\(report.completed.count) node\(report.completed.count == 1 ? "" : "s") converged"
        say("Done: \(report.actionsDone) of \(total) actions; \(converged), \(report.stalled.count) stalled, "
            + "\(report.failed.count) failed" + (report.held.isEmpty ? "" : ", \(report.held.count) held")
            + (report.halted ? "; halted: the failure budget is spent" : "") + ".\n")
    }
}
