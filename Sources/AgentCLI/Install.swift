import ArgumentParser
import CommandLineSupport
import AsyncHTTPClient
import Drivers
import Foundation
import Installer
import Logging
import RackswarmCore
import Torrent

/// `provision-agent install`: the install environment a node runs after PXE-booting its install kernel.
struct Install: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install the image the kernel arguments name onto the disk, reporting each phase.",
        discussion: """
            Reads rackswarm.node/torrent/tracker/sha256/report from the kernel command line, gets the \
            instructions from the report URL, downloads the image by BitTorrent onto --disk, checks its \
            SHA-256, runs the post actions in --root, and reports booted, downloading, written, postInstalled \
            and rebooting (or failed). Exit 0 once the rebooting report was acknowledged.
            """)

    @Option(help: "File holding the kernel command line.")
    var cmdline: String = "/proc/cmdline"

    @Option(help: "The kernel command line itself (instead of --cmdline).")
    var kernelArgs: String?

    @Option(help: "Target file (written sparse) or block device.")
    var disk: String

    @Option(help: "The node's root directory: post actions run there ($RACKSWARM_ROOT).")
    var root: String

    @OptionGroup var listen: PeerListenOption

    @Option(help: .duration("Keep seeding this long after the image is written (e.g. 30s, 5m)."),
            transform: Quantity.durationFlag(in: .zero ... Quantity.durations.upperBound))
    var seedFor: Duration = .zero

    @Option(help: .duration("Time between downloading reports (e.g. 2, 500ms, 2s)."),
            transform: Quantity.durationFlag())
    var reportInterval: Duration = .seconds(2)

    @Option(help: .duration("How long to keep retrying while the report server is unreachable (e.g. 120, 2m)."),
            transform: Quantity.durationFlag(in: .zero ... Quantity.durations.upperBound))
    var giveUpAfter: Duration = .seconds(120)

    @Option(help: .duration("How long one post action may run (e.g. 600, 10m)."), transform: Quantity.durationFlag())
    var actionTimeout: Duration = .seconds(600)

    @Flag(help: """
        Mount the image's root partition (its rootPartition) on --root for the post actions, and install this \
        agent binary there as /usr/local/bin/provision-agent when the image ships provision-agent.service.
        """)
    var mountRoot = false

    @OptionGroup var verbosity: VerboseOption
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = Logger(label: "provision-agent.install")
        let arguments: InstallArguments
        do throws(InstallError) {
            let text: String
            let source: String
            if let kernelArgs {
                (text, source) = (kernelArgs, "--kernel-args")
            } else {
                do {
                    (text, source) = (try String(contentsOfFile: cmdline, encoding: .utf8), cmdline)
                } catch {
                    throw InstallError(.missingArgument, "cannot read \(cmdline): \(error.localizedDescription)")
                }
            }
            arguments = try KernelCommandLine.installArguments(KernelCommandLine.split(text), source: source)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.detail)\n".utf8))
            throw ExitCode(2)
        }
        let address = listen.address
        // The installed system runs this very binary: the install environment's agent, the reconciler's version.
        let ownBinary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let configuration = InstallConfiguration(
            arguments: arguments, disk: disk, root: root, listenHost: address.host, listenPort: address.port,
            seedFor: seedFor, reportInterval: reportInterval, giveUpAfter: giveUpAfter, actionTimeout: actionTimeout,
            mountRootPartition: mountRoot,
            agentBinary: mountRoot ? ownBinary : nil)
        let client = NodeInstaller.makeHTTPClient()
        let outcome: Result<InstallInstructions, InstallError>
        do {
            outcome = .success(try await NodeInstaller(configuration: configuration, client: client, logger: logger)
                .run())
        } catch {
            outcome = .failure(error)
        }
        try? await client.shutdown()
        switch outcome {
        case .success(let instructions):
            print("installed \(instructions.image) on \(disk); rebooting")
        case .failure(let error):
            FileHandle.standardError.write(Data("error: \(error.detail)\n".utf8))
            // 75 (EX_TEMPFAIL) when booting the install again may work, 1 when a human must act.
            throw ExitCode(error.intent == .transient ? 75 : 1)
        }
    }
}
