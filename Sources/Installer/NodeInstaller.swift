import AsyncHTTPClient
import Drivers
import Foundation
import Logging
import NIOCore
import RackswarmCore
import Torrent

/// What `provision-agent install` needs beyond the kernel arguments.
public struct InstallConfiguration: Sendable {
    public var arguments: InstallArguments
    /// The target: a file (written sparse) or a block device.
    public var disk: String
    /// The node's root directory: post actions run there, with `RACKSWARM_ROOT` pointing at it.
    public var root: String
    /// Where to accept BitTorrent peers (port 0 picks one).
    public var listenHost: String
    public var listenPort: Int
    /// Keep seeding this long after `written` (first-wave nodes seed the rest of their rack).
    public var seedFor: Duration
    /// How often a `downloading` report goes out.
    public var reportInterval: Duration
    /// Hosts whose bytes count as `fromSeed` (default: the tracker's host, where the reconciler runs its seed).
    public var seedHosts: [String]
    /// How long a request keeps retrying while the server is unreachable.
    public var giveUpAfter: Duration
    public var backoff: RetryPolicy
    /// Longest run of one post action.
    public var actionTimeout: Duration
    /// Mount the image's declared root partition on `root` for the post actions (the install environment on a
    /// real disk); off, the post actions run in `root` as it is.
    public var mountRootPartition: Bool
    /// Where the `booted` report's hardware inventory is read; nil sends none.
    public var hardware: HardwareProbe?
    /// The agent binary the installed system runs, copied into the root when the image ships the agent's unit
    /// (`InstalledRoot.installAgent`): the install environment passes its own. Nil copies nothing.
    public var agentBinary: String?

    public init(arguments: InstallArguments, disk: String, root: String, listenHost: String = "0.0.0.0",
                listenPort: Int = 6881, seedFor: Duration = .zero, reportInterval: Duration = .seconds(2),
                seedHosts: [String]? = nil, giveUpAfter: Duration = .seconds(120),
                backoff: RetryPolicy = RetryPolicy(base: .milliseconds(200), cap: .seconds(5)),
                actionTimeout: Duration = .seconds(600), mountRootPartition: Bool = false,
                hardware: HardwareProbe? = HardwareProbe(), agentBinary: String? = nil)
    {
        self.hardware = hardware
        self.agentBinary = agentBinary
        self.mountRootPartition = mountRootPartition
        self.arguments = arguments
        self.disk = disk
        self.root = root
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.seedFor = seedFor
        self.reportInterval = reportInterval
        // The tracker's host runs the seed; so may every fallback reconciler.
        self.seedHosts = seedHosts ?? ([arguments.trackerURL] + arguments.fallbacks).compactMap {
            URLComponents(string: $0)?.host
        }
        self.giveUpAfter = giveUpAfter
        self.backoff = backoff
        self.actionTimeout = actionTimeout
    }
}

/// The install environment's work on one node, from kernel arguments to `rebooting`: fetch the instructions, report
/// `booted`, download the image by BitTorrent onto the disk (reporting `downloading` every few seconds), verify
/// the whole file's SHA-256, sync, report `written`, run the post actions, report `postInstalled`, seed on if
/// asked, and report `rebooting`. Any failure after the instructions arrived is reported as `failed` (one line)
/// before `run()` throws it.
///
/// Reports other than `rebooting` that cannot be delivered within `giveUpAfter` are logged and skipped: the install
/// itself is fine. `rebooting` must be acknowledged, since the server flips the boot entry on it; if it is not,
/// `run()` throws `serverUnreachable` and the node must not reboot into the install again.
public struct NodeInstaller: Sendable {
    public var configuration: InstallConfiguration
    public var channel: ReportChannel
    public var commands: any CommandRunning
    public var logger: Logger

    public init(configuration: InstallConfiguration, client: HTTPClient,
                commands: any CommandRunning = ProcessCommandRunner(), logger: Logger)
    {
        self.configuration = configuration
        self.channel = ReportChannel(
            reportURL: configuration.arguments.reportURL, client: client, backoff: configuration.backoff,
            giveUpAfter: configuration.giveUpAfter, token: configuration.arguments.token,
            fallbacks: configuration.arguments.fallbacks, logger: logger)
        self.commands = commands
        var logger = logger
        logger[metadataKey: "node"] = "\(configuration.arguments.node)"
        self.logger = logger
    }

    /// An HTTP client for the install environment: a refused connection fails within `connectTimeout` (the
    /// client's default waits 10 s), so the channel's own backoff and bound decide how long to keep trying.
    public static func makeHTTPClient(connectTimeout: Duration = .seconds(2)) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .nanoseconds(
            connectTimeout.components.seconds * 1_000_000_000 + connectTimeout.components.attoseconds / 1_000_000_000)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Installs; returns the instructions it carried out.
    @discardableResult
    public func run() async throws(InstallError) -> InstallInstructions {
        let instructions: InstallInstructions
        do {
            instructions = try await channel.instructions()
        } catch {
            let intent: RackswarmCore.ErrorIntent = (error.status ?? 500) >= 500 ? .transient : .stalled
            throw InstallError(error.status == nil ? .serverUnreachable : .badInstructions,
                               "cannot get install instructions: \(error.detail)", intent: intent)
        }
        let tracker = ProgressTracker(image: instructions.image)
        do throws(InstallError) {
            try check(instructions)
            var booted = await tracker.report(.booted)
            booted.hardware = configuration.hardware?.inventory()
            await report(booted)
            let (client, length) = try await download(instructions, tracker: tracker)
            let seedingEnds = ContinuousClock.now + configuration.seedFor
            do throws(InstallError) {
                try await verify(instructions, length: length)
                await tracker.update(try? await client.progress())
                await report(tracker.report(.written))
                try await postInstall(instructions)
                await tracker.update(try? await client.progress())
                await report(tracker.report(.postInstalled))
                if ContinuousClock.now < seedingEnds {
                    logger.info("seeding before reboot", metadata: ["seed.until": "\(seedingEnds)"])
                    try? await Task.sleep(until: seedingEnds)
                }
                await tracker.update(try? await client.progress())
            } catch {
                await client.stop()
                throw error
            }
            await client.stop()
        } catch {
            var failed = await tracker.report(.failed)
            failed.error = error.detail.split(whereSeparator: \.isNewline).joined(separator: " ")
            if error.intent == .stalled { failed.stalled = true }
            logger.error("install failed", metadata: ["error": "\(error.detail)"])
            try? await channel.post(failed)
            throw error
        }
        do {
            try await channel.post(await tracker.report(.rebooting))
        } catch {
            throw InstallError(.serverUnreachable, "the rebooting report was not acknowledged: \(error.detail)",
                               intent: .transient)
        }
        logger.info("install complete", metadata: ["image": "\(instructions.image)"])
        return instructions
    }

    /// The post actions, in the written image's root partition when the image declares one and the install
    /// environment mounts it (`mountRootPartition`): mount, the agent binary, its settings, the image's actions,
    /// sync, unmount.
    /// Whatever fails, a mounted root is unmounted before the error goes on.
    func postInstall(_ instructions: InstallInstructions) async throws(InstallError) {
        let node = configuration.arguments.node
        var mounted: InstalledRoot?
        if configuration.mountRootPartition, let partition = instructions.rootPartition {
            let root = InstalledRoot(disk: configuration.disk, partition: partition, mountPoint: configuration.root,
                                     commands: commands)
            let device = try await root.mount()
            logger.info("root partition mounted", metadata: ["device": "\(device)", "root": "\(configuration.root)"])
            mounted = root
        }
        do throws(InstallError) {
            if let binary = configuration.agentBinary, try InstalledRoot.installAgent(from: binary,
                                                                                       root: configuration.root) {
                logger.info("agent installed", metadata: ["path": "\(InstalledRoot.agentPath)"])
            }
            if let agent = instructions.agent {
                try InstalledRoot.writeAgentSettings(agent, node: node, root: configuration.root)
            }
            let actions = PostActions(node: node, root: configuration.root, disk: configuration.disk,
                                      image: instructions.image, timeout: configuration.actionTimeout,
                                      commands: commands)
            let logger = logger
            try await actions.run(instructions.postInstall) { action, result in
                logger.info("post action finished", metadata: [
                    "action.name": "\(action.name)", "action.result": "\(result.summary)",
                    "action.output": "\(PostActions.lastLines(result.output, count: 10))"])
            }
        } catch {
            try? await mounted?.unmount()
            throw error
        }
        try await mounted?.unmount()
    }

    /// The instructions must be this node's and name the image the kernel arguments carry.
    func check(_ instructions: InstallInstructions) throws(InstallError) {
        let arguments = configuration.arguments
        guard instructions.node == arguments.node else {
            throw InstallError(.badInstructions,
                               "the server sent instructions for node '\(instructions.node)', not '\(arguments.node)'")
        }
        guard instructions.sha256.lowercased() == arguments.sha256.lowercased() else {
            throw InstallError(.badInstructions,
                               "stale boot entry: rackswarm.sha256=\(arguments.sha256) but the server wants image "
                                + "\(instructions.image) with sha256 \(instructions.sha256)")
        }
    }

    /// Fetches the .torrent and downloads every piece; returns the client, still seeding, and the image's length.
    func download(_ instructions: InstallInstructions, tracker: ProgressTracker) async throws(InstallError)
        -> (TorrentClient, Int64)
    {
        let arguments = configuration.arguments
        let metainfo: Metainfo
        do {
            metainfo = try Metainfo(bytes: try await channel.fetch(arguments.torrentURL, limit: 16 << 20))
        } catch let error as ReportChannel.Failure {
            throw InstallError(.torrent, "cannot fetch \(arguments.torrentURL): \(error.detail)",
                               intent: error.status == nil ? .transient : .stalled)
        } catch {
            throw InstallError(.torrent, "\(arguments.torrentURL) is not a torrent: \(error)")
        }
        if let capacity = InstalledRoot.blockDeviceSize(configuration.disk), capacity < metainfo.length {
            throw InstallError(.diskTooSmall, "disk \(configuration.disk) holds \(capacity) bytes but image "
                               + "\(instructions.image) has \(metainfo.length): nothing was written")
        }
        let torrentConfiguration = TorrentConfiguration(
            listenHost: configuration.listenHost, listenPort: configuration.listenPort,
            trackerURL: arguments.trackerURL,
            // The entry's fallback reconcilers run trackers too, at the same path.
            fallbackTrackers: arguments.fallbacks.map { $0 + "/announce" }, rack: instructions.rack,
            seedHosts: Set(configuration.seedHosts))
        let client: TorrentClient
        do {
            client = try await TorrentClient.start(
                metainfo: metainfo, path: configuration.disk, configuration: torrentConfiguration, logger: logger)
        } catch {
            throw InstallError(.download, "cannot start the download to \(configuration.disk): \(error)")
        }
        let interval = configuration.reportInterval
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Result<Void, any Error>?.self) { group in
            group.addTask {
                do {
                    try await client.waitUntilComplete()
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                // Progress reports are best effort: one attempt each, the next one follows in `interval`.
                while !Task.isCancelled {
                    if let progress = try? await client.progress() {
                        await tracker.update(progress)
                        try? await channel.post(await tracker.report(.downloading), giveUpAfter: .zero)
                    }
                    try? await Task.sleep(for: interval)
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .success(())
        }
        if case .failure(let error) = outcome {
            await client.stop()
            throw InstallError(.download, "download to \(configuration.disk) failed: \(error)", intent: .transient)
        }
        await tracker.update(try? await client.progress())
        await report(tracker.report(.downloading))
        return (client, metainfo.length)
    }

    /// The whole file's SHA-256 against `rackswarm.sha256`, then fsync.
    /// (A block device is larger than the image: only the image's `length` bytes are hashed.)
    func verify(_ instructions: InstallInstructions, length: Int64) async throws(InstallError) {
        let disk = configuration.disk
        let want = configuration.arguments.sha256.lowercased()
        let result: Result<String, FileDigest.Failure> = await Task.detached {
            do throws(FileDigest.Failure) {
                let got = try FileDigest.sha256(path: disk, length: length)
                try FileDigest.sync(path: disk)
                return .success(got)
            } catch {
                return .failure(error)
            }
        }.value
        switch result {
        case .failure(let failure):
            throw InstallError(.download, "cannot verify \(disk): \(failure)")
        case .success(let got) where got != want:
            throw InstallError(.sha256Mismatch, "sha256 mismatch: want \(want) got \(got)")
        case .success:
            logger.info("image verified", metadata: ["image": "\(instructions.image)", "image.sha256": "\(want)"])
        }
    }

    /// Posts a phase report, retrying; a report that stays undelivered is logged, not fatal.
    private func report(_ report: InstallReport) async {
        do {
            try await channel.post(report)
        } catch {
            logger.warning("report not delivered", metadata: [
                "report.phase": "\(report.phase.rawValue)", "error": "\(error.detail)"])
        }
    }
}

/// The counters every report carries, updated from the torrent client's progress.
actor ProgressTracker {
    let image: String
    private var latest: TorrentProgress?

    init(image: String) {
        self.image = image
    }

    func update(_ progress: TorrentProgress?) {
        guard let progress else { return }
        latest = progress
    }

    func report(_ phase: InstallReport.Phase) -> InstallReport {
        guard let latest else { return InstallReport(phase: phase, image: image) }
        return InstallReport(
            phase: phase, image: image, percent: Self.percent(latest.verifiedBytes, of: latest.totalBytes),
            downloaded: latest.verifiedBytes, uploaded: latest.uploadedBytes, fromSeed: latest.downloadedFromSeedHosts,
            uploadStartedAtPercent: latest.verifiedBytesAtFirstUpload.map { Self.percent($0, of: latest.totalBytes) }
        )
    }

    /// One decimal: 42.5.
    static func percent(_ bytes: Int64, of total: Int64) -> Double {
        guard total > 0 else { return 0 }
        return (Double(bytes) * 1000 / Double(total)).rounded() / 10
    }
}
