import ArgumentParser
import CommandLineSupport
import Foundation
import Reconciler

extension Apply {
    /// Before a one-shot pass whose plan holds destructive actions (power cycles of running nodes, disk writes,
    /// power-offs), asks on the terminal as `terraform apply` does; `--yes` skips the question.
    ///
    /// Without a terminal to ask on, a destructive plan is refused unless `--yes` is given (terraform refuses an
    /// apply it cannot confirm, too): a script or a cron job must say so explicitly. The loop modes (`--loop`,
    /// `--every`) are the unattended path and never ask. Plans without destructive actions need no answer.
    func confirm(_ desired: DesiredState) async throws {
        guard !yes else { return }
        let plan = try await PlanCommand.plan(desired, state: state, observed: nil, scope: scope)
        let destructive = plan.actions.filter(\.destructive)
        guard !destructive.isEmpty else { return }
        let nodes = Set(destructive.map(\.node)).count
        let summary = "\(destructive.count) destructive action\(destructive.count == 1 ? "" : "s") on \(nodes) "
            + "node\(nodes == 1 ? "" : "s")"
        guard isatty(0) == 1, Terminal.standardError.isTerminal else {
            Terminal.standardError.write("""
                error: the plan holds \(summary) (reimages, power cycles or power-offs) and there is no terminal \
                to confirm on; nothing was applied.
                Review it with `reconcile plan`, then run `reconcile apply --yes` (or `--loop` as a service).

                """)
            throw ExitCode.failure
        }
        let renderer = PlanRenderer(colour: true)
        Terminal.standardError.write(renderer.text(plan, site: desired.site.name, commit: nil))
        Terminal.standardError.write("\nThe plan holds \(summary). Apply it? Only 'yes' is accepted: ")
        let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces)
        guard answer == "yes" else {
            Terminal.standardError.write("Apply cancelled; nothing was changed.\n")
            throw ExitCode.failure
        }
    }
}
