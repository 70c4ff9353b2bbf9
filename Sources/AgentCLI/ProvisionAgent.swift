import ArgumentParser

/// The `provision-agent` command: runs on a node and carries out what the reconciler asks of it.
@main
struct ProvisionAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provision-agent",
        abstract: "Node-side agent of rackswarm: fetches images and installs services.",
        subcommands: [Fetch.self]
    )
}
