import ArgumentParser
import CommandLineSupport
import Foundation
import Logging
import RackswarmCore
import Torrent
import UnixSignals

/// `reconcile seed`: runs the tracker and the initial seed of an image in the foreground.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Seed an image and run its tracker until interrupted.")

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Option(help: "The image the torrent was made from.")
    var data: String

    @OptionGroup var listen: PeerListenOption

    @Option(help: "Serve the HTTP tracker on HOST:PORT (omit to use an external tracker).")
    var trackerListen: String?

    @Option(help: "A node's rack as IP=RACK, for rack-aware answers; repeatable.")
    var rack: [String] = []

    @Option(help: "Address peers should use to reach this seed (HOST:PORT), always included in tracker answers.")
    var advertise: String?

    @Flag(help: """
        Rack uplinks are oversubscribed: tell each racked node only of this seed and its own rack, so that every \
        piece enters a rack about once, from this seed, and never crosses between racks (turns super-seeding off).
        """)
    var keepInRack = false

    @OptionGroup var uploadLimit: UploadLimitOption

    @Flag(
        inversion: .prefixedNo,
        help: "Offer each peer a few pieces at a time, so every piece leaves the seed once before any leaves it twice.")
    var superSeed = true

    @Option(help: """
        Super-seeding: offers out at once across all peers (default: the engine's 8). More keep a seed busy whose \
        link is faster than the share each receiving node gives it.
        """)
    var superSeedInFlight: Int?

    @OptionGroup var verbosity: VerboseOption

    /// `-o json` prints each status line as a JSON object (`event` `seeding`, then `progress`); `--out-file`
    /// holds the latest.
    @OptionGroup var output: OutputOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let trackerListen, HostPort(parsing: trackerListen) == nil {
            throw ValidationError("--tracker-listen wants HOST:PORT")
        }
        for entry in rack where !entry.contains("=") { throw ValidationError("--rack wants IP=RACK, got '\(entry)'") }
        if let superSeedInFlight, superSeedInFlight < 1 {
            throw ValidationError("--super-seed-in-flight must be at least 1")
        }
        if superSeedInFlight != nil, !superSeed || keepInRack {
            throw ValidationError("--super-seed-in-flight needs super-seeding (not --no-super-seed or --keep-in-rack)")
        }
    }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let logger = Logger(label: "rackswarm.seed")
        let metainfo = try Metainfo(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: torrent))))
        let listenAddress = listen.address
        var runningTracker: TrackerHTTPServer.Running?
        var trackerURL: String?
        if let trackerListen, let address = HostPort(parsing: trackerListen) {
            var racks: [String: String] = [:]
            for entry in rack {
                let parts = entry.split(separator: "=", maxSplits: 1)
                racks[String(parts[0])] = String(parts[1])
            }
            let pinned = advertise.flatMap(HostPort.init(parsing:)).map { PeerAddress(host: $0.host, port: $0.port) }
            let service = TrackerService(
                tracker: Tracker(
                    configuration: TrackerConfiguration(
                        racksByHost: racks, pinnedSeeds: pinned.map { [$0] } ?? [],
                        // Standalone, the tracker serves the seed's own torrent and nothing else.
                        allowedInfoHashes: [metainfo.infoHash.bytes], keepInRack: keepInRack
                    )))
            let channel = try await TrackerHTTPServer.start(
                service: service, host: address.host, port: address.port, logger: logger
            )
            runningTracker = channel
            let host = address.host == "0.0.0.0" ? "127.0.0.1" : address.host
            trackerURL = "http://\(host):\(channel.port)/announce"
        }
        var configuration = TorrentConfiguration(
            listenHost: listenAddress.host, listenPort: listenAddress.port, trackerURL: trackerURL,
            // A super-seed offers a piece once in the whole swarm; kept in racks, each rack needs each piece once
            // and its nodes ask for what their rack lacks.
            uploadLimit: uploadLimit.bytesPerSecond, superSeed: superSeed && !keepInRack)
        if let superSeedInFlight { configuration.superSeedInFlight = superSeedInFlight }
        let client = try await TorrentClient.start(
            metainfo: metainfo, path: data, seedOnly: true, configuration: configuration, logger: logger)
        guard try await client.progress().isComplete else {
            await client.stop()
            throw ValidationError("\(data) does not match \(torrent): some pieces fail their hash")
        }
        try output.line(
            "seeding \(metainfo.name) (\(metainfo.infoHash.hex)) on port \(client.listenPort ?? 0)",
            Status(event: "seeding", name: metainfo.name, infoHash: metainfo.infoHash.hex, port: client.listenPort,
                   tracker: trackerURL))
        // Status lines every 2 s until SIGINT or SIGTERM (kept from the start, so one that comes while the data
        // is checked is not lost), which stops the seed at once, not at the next tick.
        let output = output
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals { return }
            }
            group.addTask {
                var last = try await client.progress()
                while true {
                    try await Task.sleep(for: .seconds(2))
                    let progress = try await client.progress()
                    if progress.uploadedBytes != last.uploadedBytes || progress.peers != last.peers {
                        try output.line(
                            "peers \(progress.peers) uploaded \(ProgressLine.bytes(progress.uploadedBytes)) "
                                + "at \(ProgressLine.bytes(Int64(progress.uploadRate)))/s "
                                + progress.statistics.summary,
                            Status(event: "progress", peers: progress.peers, uploadedBytes: progress.uploadedBytes,
                                   uploadRate: Int64(progress.uploadRate)))
                    }
                    last = progress
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        await client.stop()
        await runningTracker?.stop()
    }

    /// A status line with `-o json`: `seeding` once the data checks out, then `progress` as uploads go.
    struct Status: Encodable {
        var event: String
        var name: String?
        var infoHash: String?
        var port: Int?
        var tracker: String?
        var peers: Int?
        var uploadedBytes: Int64?
        var uploadRate: Int64?
    }
}
