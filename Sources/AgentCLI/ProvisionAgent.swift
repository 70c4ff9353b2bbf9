import ArgumentParser

/// The `provision-agent` command: the daemon each node runs once its OS is up.
@main
struct ProvisionAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provision-agent",
        abstract: "The node agent: answers the reconciler's service requests and reports the node's inventory.",
        subcommands: [Serve.self, Fetch.self, Install.self]
    )
}
