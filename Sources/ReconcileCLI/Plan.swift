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

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let (checkout, desired) = try source.loadSite(refusal: "no plan was made and nothing was applied")
        try await Self.print(desired, checkout: checkout, state: state, observed: observed, scope: scope,
                             output: output)
    }

    /// Plans and prints the plan; exits 2 when it holds changes.
    static func print(_ desired: DesiredState, checkout: SiteSource.Checkout, state: String, observed: String?,
                      scope: Planner.Policy.Scope, output: OutputOptions) async throws {
        let plan = try await Self.plan(desired, state: state, observed: observed, scope: scope)
        let renderer = PlanRenderer(colour: output.toTerminal)
        switch output.output {
        case .text:
            try output.emit(renderer.text(plan, site: desired.site.name, commit: checkout.commit)
                + BootEntryPreview.text(plan: plan, desired: desired))
        case .json: try output.emit(try renderer.json(plan, site: desired.site.name, commit: checkout.commit))
        }
        if !plan.isEmpty { throw ExitCode(2) }
    }

    /// The plan against the observed state in `observed` (a JSON file) or else the state database (none yet:
    /// nothing observed), honouring the racks an operator suspended.
    static func plan(_ desired: DesiredState, state: String, observed: String?, scope: Planner.Policy.Scope)
        async throws -> Reconciler.Plan
    {
        var observedState = ObservedState()
        var suspended: Set<String> = []
        if let observed {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: observed))
                observedState = try JSONDecoder().decode(ObservedState.self, from: data)
            } catch {
                Terminal.standardError.write("error: cannot read observed state \(observed): \(error)\n")
                throw ExitCode.failure
            }
        } else if let store = try SQLiteStateStore.openExisting(path: state) {
            observedState = try await store.observedState()
            suspended = try await store.suspendedRacks()
        }
        return Planner.plan(desired: desired, observed: observedState,
                            policy: .init(scope: scope, suspendedRacks: suspended))
    }
}
