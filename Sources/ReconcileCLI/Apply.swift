import ArgumentParser
import Foundation
import Reconciler

/// `reconcile [--dry-run]`: plan (and, later, apply) the changes that converge the site.
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

    func validate() throws {
        guard dryRun else {
            throw ValidationError("applying changes is not available yet; use --dry-run to preview the plan")
        }
    }

    func run() async throws {
        let checkout: SiteSource.Checkout
        do {
            checkout = try source.source.checkout()
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode.failure
        }
        let result = SiteLoader.load(path: checkout.directory, relativeTo: checkout.root)
        if !result.diagnostics.isEmpty {
            Terminal.standardError.write(result.renderDiagnostics(colour: Terminal.standardError.isTerminal))
        }
        guard let desired = result.state else {
            Terminal.standardError.write("error: the site has errors; no plan was made and nothing was applied.\n")
            throw ExitCode.failure
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
        let plan = Planner.plan(desired: desired, observed: observedState)
        let renderer = PlanRenderer(colour: output == .text && Terminal.standardOutput.isTerminal)
        switch output {
        case .text: print(renderer.text(plan, site: desired.site.name, commit: checkout.commit), terminator: "")
        case .json: print(try renderer.json(plan, site: desired.site.name, commit: checkout.commit), terminator: "")
        }
        if !plan.isEmpty { throw ExitCode(2) }
    }
}
