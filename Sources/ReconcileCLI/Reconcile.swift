import ArgumentParser

/// The `reconcile` command: converges a bare-metal site to the state described in a git repo.
@main
struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Converge a bare-metal data center to the desired state committed in git.",
        subcommands: [
            Apply.self, Validate.self, Status.self, Power.self, Service.self, Image.self, Seed.self, Dev.self,
            Boot.self, ConsoleCommand.self,
        ],
        defaultSubcommand: Apply.self
    )
}
