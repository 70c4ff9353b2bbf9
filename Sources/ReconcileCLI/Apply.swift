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

    @Option(help: "Site source: a local directory (a git checkout or plain files).")
    var repo: String = "."

    @Option(help: "Subdirectory of the repo holding the site.")
    var path: String?

    @Option(help: "Observed state as JSON (ObservedState); default: nothing observed yet.")
    var observed: String?

    @Option(help: "Output format.")
    var output: Output = .text

    func validate() throws {
        guard dryRun else {
            throw ValidationError("applying changes is not available yet; use --dry-run to preview the plan")
        }
    }

    func run() async throws {
        let directory = path.map { (repo as NSString).appendingPathComponent($0) } ?? repo
        let result = SiteLoader.load(path: directory)
        if !result.diagnostics.isEmpty {
            Terminal.standardError.write(result.renderDiagnostics(colour: Terminal.standardError.isTerminal))
        }
        guard let desired = result.state else {
            Terminal.standardError.write("error: the site has errors; no plan was made and nothing was applied.\n")
            throw ExitCode.failure
        }
        var observedState = ObservedState()
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
        case .text: print(renderer.text(plan, site: desired.site.name, commit: nil), terminator: "")
        case .json: print(try renderer.json(plan, site: desired.site.name, commit: nil), terminator: "")
        }
        if !plan.isEmpty { throw ExitCode(2) }
    }
}
