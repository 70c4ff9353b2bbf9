import ArgumentParser
import CommandLineSupport
import Foundation
import Reconciler

/// `reconcile plan` (also `reconcile apply --dry-run`): every physical action a pass would take, changing nothing.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print every physical action a pass would take, and change nothing.",
        discussion: "Exit status: 0 in sync, 2 changes pending, 1 error (terraform plan -detailed-exitcode).")

    @OptionGroup var source: SourceOptions

    @Option(help: "State database (observed status and journal).")
    var state: String = Settings.value("state", ".rackswarm/state.db")

    @Option(help: "Plan against this observed state (JSON) instead of the state database: a what-if preview.")
    var observed: String?

    @OptionGroup var output: OutputOptions

    @Option(help: "What a pass may change: all, or services (only services on nodes whose agent answers).")
    var scope: Planner.Policy.Scope = .all

    @Flag(help: "With text output, print each node's boot entry instead of groups of like entries.")
    var showBootEntries = false

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if showBootEntries && output.output == .json {
            throw ValidationError("--show-boot-entries is for text output (JSON has every action)")
        }
    }

    func run() async throws {
        let (checkout, desired) = try source.loadSite(refusal: "no plan was made and nothing was applied")
        let site = source.source
        try await Self.print(desired, checkout: checkout, state: state, observed: observed, scope: scope,
                             output: output, showBootEntries: showBootEntries,
                             gate: CommitGate(siteAt: { site.site(atCommit: $0, siteFile: $1) }))
    }

    /// Plans and prints the plan (straight to standard output through one buffer, or whole into `--out-file`);
    /// exits 2 when it holds changes, 0 when in sync. Actions a maintenance window holds now are marked
    /// `held until …`, and a commit the site's `verify` refuses is named with why nothing would run.
    static func print(_ desired: DesiredState, checkout: SiteSource.Checkout, state: String, observed: String?,
                      scope: Planner.Policy.Scope, output: OutputOptions, showBootEntries: Bool,
                      gate: CommitGate = CommitGate()) async throws {
        let now = Date()
        var plan = MaintenanceGate(desired, at: now)
            .marking(try await Self.plan(desired, state: state, observed: observed, scope: scope), at: now)
        let lastApplied = try await SQLiteStateStore.openExisting(path: state)?.lastAppliedCommit()
        plan.blocked = await gate.refusal(checkout, site: desired.site, lastApplied: lastApplied)
        let renderer = PlanRenderer(colour: output.toTerminal)
        func render<Out: TextOutputStream>(to out: inout Out) {
            switch output.output {
            case .text:
                renderer.text(plan, site: desired.site.name, commit: checkout.commit, to: &out)
                BootEntryPreview.text(plan: plan, desired: desired, everyEntry: showBootEntries, to: &out)
            case .json: renderer.json(plan, site: desired.site.name, commit: checkout.commit, to: &out)
            }
        }
        if output.outFile != nil {
            var text = ""
            render(to: &text)
            try output.emit(text)
        } else {
            var out = BufferedStandardOutput()
            render(to: &out)
            out.flush()
        }
        Terminal.finish(plan.isEmpty ? 0 : 2)
    }

    /// The plan against the observed state in `observed` (a JSON file) or else the state database (none yet:
    /// nothing observed), honouring the racks an operator suspended.
    static func plan(_ desired: DesiredState, state: String, observed: String?, scope: Planner.Policy.Scope)
        async throws -> Reconciler.Plan
    {
        var observedState = ObservedState()
        var suspended: Set<String> = []
        var rekey: Set<String> = []
        if let observed {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: observed))
                observedState = try JSONDecoder().decode(ObservedState.self, from: data)
            } catch {
                Terminal.standardError.write("error: cannot read observed state \(observed): \(error)\n")
                throw ExitCode.failure
            }
        } else if let store = try await StateLocation.openExisting(state) {
            observedState = try await store.observedState()
            suspended = try await store.suspendedRacks()
            // A rotation under way: nodes the last pass found holding the previous site key's node key, not yet
            // rekeyed. (A pass finds the others as it asks the agents, and rekeys them at once.)
            if desired.site.agent.previousKeyFile != nil {
                rekey = Set(try await store.nodeRecords().filter {
                    $0.value.lastError == ServiceReconciler.holdsPreviousKey
                }.keys)
            }
        }
        return Planner.plan(desired: desired, observed: observedState,
                            policy: .init(scope: scope, suspendedRacks: suspended, rekey: rekey))
    }
}
