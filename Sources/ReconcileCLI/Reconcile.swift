import ArgumentParser
import CommandLineSupport

/// The `reconcile` command: converges a bare-metal site to the state described in a git repo.
///
/// Bare `reconcile` prints this help: applying is always an explicit `reconcile apply` (terraform and kubectl make
/// the same choice), because a pass power-cycles and reimages machines.
@main
struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Converge a bare-metal data center to the desired state committed in git.",
        discussion: """
            Start with `reconcile validate SITE`, preview with `reconcile plan`, converge with `reconcile apply` \
            (one pass) or `reconcile apply --loop` (as a service). Bare `reconcile` never applies.
            """,
        version: "reconcile " + BuildInfo.versionLine,
        subcommands: [
            PlanCommand.self, Apply.self, Validate.self, Status.self, Suspend.self, Resume.self, RequestPass.self,
            Power.self, Service.self, Image.self, Seed.self, Boot.self, ConsoleCommand.self, Store.self, Dev.self,
        ]
    )
}

extension Reconcile {
    /// Parses the command line, sets up logging (`--log-level`, `--log-format`, or `RACKSWARM_LOG_*`), runs.
    static func main() async { await LoggingOptions.main(Self.self) }
}
