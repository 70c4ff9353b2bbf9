import ArgumentParser
import CommandLineSupport
import Drivers
import Foundation
import Logging
import RackswarmCore
import Torrent

/// `provision-agent serve`: listens for service requests and sends heartbeats.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer service requests (install, uninstall, status, restart, inventory) for this node.",
        discussion: "The protocol is the paper's `||req||provisioning||install||null||node17||web||eom`, signed "
            + "with HMAC-SHA256 under the site key; see docs/service-protocol.md."
    )

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free port).")
    var listen: String

    @Option(help: "This node's name (MESSAGE0 of the requests it accepts).")
    var node: String

    @Option(help: "File holding this node's agent key (at least 16 bytes); a signed rekey request replaces it.")
    var keyFile: String

    @Option(help: "Directory for recorded service definitions and seen nonces.")
    var stateDir: String = "/var/lib/provision-agent"

    @Option(help: "Install into this root instead of / (dnf --installroot, rpm --root).")
    var installRoot: String?

    @Option(help: "Package manager: dnf, yum or a path. Default: whichever of dnf, yum is in PATH.")
    var packageManager: String?

    @Option(help: "dnf --releasever, needed with an empty install root.")
    var releasever: String?

    @Flag(help: "Pass --nogpgcheck to dnf (unsigned repositories).")
    var noGpgCheck = false

    @Option(help: "RPM database path, written as %_dbpath into an .rpmmacros the agent gives dnf and rpm.")
    var rpmDbpath: String?

    @Option(help: .duration("How long a process must live after its start script before install says ok (e.g. 500ms)."),
            transform: Quantity.durationFlag(in: .zero ... Quantity.durations.upperBound))
    var settle: Duration = .seconds(1)

    @Option(help: .duration("How long a process has to appear after its start script ran (e.g. 10, 10s)."),
            transform: Quantity.durationFlag())
    var processTimeout: Duration = .seconds(10)

    @Option(help: .duration("How long a start or stop script may run (e.g. 60, 1m)."),
            transform: Quantity.durationFlag())
    var scriptTimeout: Duration = .seconds(60)

    @Option(help: "Reconciler address (HOST:PORT) to send heartbeats with the node's inventory to.")
    var reportTo: String?

    @Option(help: .duration("Time between heartbeats (e.g. 30, 30s)."), transform: Quantity.durationFlag())
    var heartbeatInterval: Duration = .seconds(30)

    @Option(help: "Write the bound port to this file once listening (for scripts using port 0).")
    var portFile: String?

    @Option(help: "Seed this .torrent from --seed-data while serving (an installed node seeds its rack).")
    var seedTorrent: String?

    @Option(help: "The installed image to seed (the node's disk).")
    var seedData: String?

    @Option(help: "Accept peers on HOST:PORT while seeding.")
    var seedListen: String = "0.0.0.0:6881"

    @Option(help: ArgumentHelp(
        "Serve Prometheus metrics at http://HOST:PORT/metrics: recorded services, their drift, answers.",
        discussion: "Per service: RPMs missing and processes down since its install, read live at each scrape."))
    var metricsListen: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let metricsListen, HostPort(parsing: metricsListen) == nil {
            throw ValidationError("--metrics-listen wants HOST:PORT")
        }
        guard AgentAddress(parsing: listen) != nil else { throw ValidationError("--listen must be HOST:PORT") }
        if let reportTo, AgentAddress(parsing: reportTo) == nil {
            throw ValidationError("--report-to must be HOST:PORT")
        }
        guard (seedTorrent == nil) == (seedData == nil) else {
            throw ValidationError("--seed-torrent and --seed-data go together")
        }
        guard HostPort(parsing: seedListen) != nil else {
            throw ValidationError("--seed-listen wants HOST:PORT")
        }
    }

    func run() async throws {
        var logger = Logger(label: "provision-agent")
        logger[metadataKey: "node"] = "\(node)"
        let key = try SiteKey(contentsOfFile: keyFile)
        guard let address = AgentAddress(parsing: listen) else { throw ValidationError("--listen must be HOST:PORT") }
        guard let manager = packageManager ?? DNFInstaller.locatePackageManager() else {
            throw ValidationError("neither dnf nor yum is in PATH; pass --package-manager")
        }
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        var environment: [String: String] = [:]
        if let rpmDbpath {
            let home = "\(stateDir)/home"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            try "%_dbpath \(rpmDbpath)\n".write(toFile: "\(home)/.rpmmacros", atomically: true, encoding: .utf8)
            environment["HOME"] = home
        }
        let installer = DNFInstaller(
            configuration: .init(
                packageManager: manager, installRoot: installRoot, releaseVersion: releasever,
                skipGPGCheck: noGpgCheck, environment: environment),
            logger: logger)
        let agent = ProvisioningAgent(
            configuration: .init(
                node: node, installRoot: installRoot, stateDirectory: stateDir,
                scriptTimeout: scriptTimeout, processStartTimeout: processTimeout, settleTime: settle,
                keyFile: keyFile),
            key: key, installer: installer, processes: LinuxProcessTable(installRoot: installRoot), logger: logger)
        let metrics = AgentMetrics(version: BuildInfo.version, commit: BuildInfo.commit)
        let server = ServiceAgentServer(address: address, logger: logger) { request in
            let answer = await agent.answer(request)
            await metrics.count(answer)
            return answer
        }
        let portFile = portFile
        let heartbeat = reportTo.flatMap(AgentAddress.init(parsing:)).map {
            Heartbeat(
                agent: agent, client: ServiceAgentClient(address: $0, key: key, timeout: .seconds(30), logger: logger),
                node: node, interval: heartbeatInterval, logger: logger)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.run { port in
                    if let portFile { try? "\(port)\n".write(toFile: portFile, atomically: true, encoding: .utf8) }
                }
            }
            if let heartbeat { group.addTask { await heartbeat.run() } }
            if let metricsListen, let address = HostPort(parsing: metricsListen) {
                let exporter = MetricsHTTPServer(host: address.host, port: address.port, logger: logger) {
                    await metrics.render(await agent.inventory())
                }
                group.addTask { try await exporter.run() }
            }
            if let seedTorrent, let seedData {
                let seedAddress = HostPort(parsing: seedListen) ?? HostPort(host: "0.0.0.0", port: 6881)
                let seedLogger = logger
                group.addTask {
                    await Self.seed(seedTorrent, data: seedData, listen: (seedAddress.host, seedAddress.port),
                                    logger: seedLogger)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

extension Serve {
    /// Seeds the installed image until the agent stops. A seed that cannot start (a disk that no longer holds
    /// the image, say) costs a log line, never the agent: services matter more than the swarm.
    static func seed(_ torrent: String, data: String, listen: (host: String, port: Int), logger: Logger) async {
        do {
            let metainfo = try Metainfo(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: torrent))))
            let client = try await TorrentClient.start(
                metainfo: metainfo, path: data, seedOnly: true,
                configuration: TorrentConfiguration(listenHost: listen.host, listenPort: listen.port,
                                                    trackerURL: metainfo.announce),
                logger: logger)
            guard try await client.progress().isComplete else {
                logger.error("not seeding: the disk does not hold the image of the torrent", metadata: [
                    "torrent": "\(torrent)",
                ])
                await client.stop()
                return
            }
            logger.info("seeding the installed image", metadata: ["torrent": "\(metainfo.name)"])
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            await client.stop()
        } catch {
            logger.error("not seeding", metadata: ["error": "\(error)"])
        }
    }
}
