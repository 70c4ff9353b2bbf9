import ArgumentParser
import CommandLineSupport

/// The `provision-agent` command: the install environment (`install`) and the daemon each node runs once its OS is
/// up (`serve`).
@main
struct ProvisionAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provision-agent",
        abstract: "The node agent: installs the image from the install environment, answers the reconciler's service "
            + "requests and reports the node's inventory.",
        version: "provision-agent " + BuildInfo.versionLine,
        subcommands: [Serve.self, Fetch.self, Install.self, Erase.self]
    )
}

extension ProvisionAgent {
    /// Parses the command line, sets up logging (`--log-level`, `--log-format`, or `RACKSWARM_LOG_*`), runs.
    static func main() async { await LoggingOptions.main(Self.self) }
}
