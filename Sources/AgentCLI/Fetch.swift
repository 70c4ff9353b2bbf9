import ArgumentParser
import CommandLineSupport
import Foundation
import Logging
import RackswarmCore
import Torrent

/// `provision-agent fetch`: downloads a torrent's image straight to a file or block device.
struct Fetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download an image over BitTorrent; exit 0 only when every piece is verified."
    )

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Option(name: .customLong("out-file"), help: "Target file or block device (pieces are written at their offsets).")
    var output: String

    @OptionGroup var listen: PeerListenOption

    @Option(name: .customLong("peer"), help: "Dial this peer (HOST:PORT); repeatable.")
    var peers: [String] = []

    @Option(help: "Tracker URL (default: the torrent's announce; 'none' to disable).")
    var tracker: String?

    @Option(help: "This node's rack, sent to the tracker.")
    var rack: String?

    @Flag(help: "Keep traffic in the rack the tracker names: fetch from rack peers and unchoke them first.")
    var rackPreference = false

    @Option(help: .duration("Keep seeding this long after completion (e.g. 30s, 5m)."),
            transform: Quantity.durationFlag(in: .zero ... Quantity.durations.upperBound))
    var seedFor: Duration = .zero

    @OptionGroup var uploadLimit: UploadLimitOption

    @OptionGroup var verbosity: VerboseOption
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        for peer in peers where HostPort(parsing: peer) == nil {
            throw ValidationError("--peer wants HOST:PORT, got '\(peer)'")
        }
    }

    func run() async throws {
        let logger = Logger(label: "rackswarm.agent.fetch")
        let metainfo = try Metainfo(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: torrent))))
        let listenAddress = listen.address
        let configuration = TorrentConfiguration(
            listenHost: listenAddress.host,
            listenPort: listenAddress.port,
            trackerURL: tracker == "none" ? "" : tracker,
            rack: rack,
            rackPreference: rackPreference,
            peers: peers,
            uploadLimit: uploadLimit.bytesPerSecond
        )
        let client = try await TorrentClient.start(
            metainfo: metainfo, path: output, configuration: configuration, logger: logger
        )
        let reporter = ProgressReporter(interactive: StandardOutput.isTerminal)
        let started = ContinuousClock.now
        // A rollout may start the next wave once this node can serve: say when the first piece is in.
        let firstPiece = Task {
            guard (try? await client.waitUntilFirstPiece()) != nil else { return }
            StandardOutput.line("first piece passed its hash after \(Self.seconds(since: started)) s")
        }
        // Report every second, and once more the moment the last piece is verified.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.waitUntilComplete() }
            group.addTask {
                while true {
                    reporter.show(try await client.progress())
                    try await Task.sleep(for: .seconds(1))
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        reporter.show(try await client.progress())
        reporter.finish()
        await firstPiece.value
        StandardOutput.line("verified \(metainfo.pieceCount) pieces in \(Self.seconds(since: started)) s")
        StandardOutput.line("swarm \(try await client.progress().statistics.summary)")
        if seedFor > .zero {
            logger.info("seeding after completion", metadata: ["seed.seconds": "\(seedFor.components.seconds)"])
            try await Task.sleep(for: seedFor)
        }
        let final = try await client.progress()
        await client.stop()
        guard final.isComplete else { throw ExitCode(1) }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// Prints progress as a bar redrawn in place on a TTY, or as plain lines otherwise.
struct ProgressReporter: Sendable {
    let interactive: Bool

    func show(_ progress: TorrentProgress) {
        if interactive {
            StandardOutput.write("\r" + ProgressLine.bar(progress) + "\u{1B}[K")
        } else {
            StandardOutput.line(ProgressLine.plain(progress))
        }
    }

    func finish() {
        if interactive { StandardOutput.line("") }
    }
}
