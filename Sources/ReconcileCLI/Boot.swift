import ArgumentParser
import CommandLineSupport
import BootServer
import Drivers
import Foundation
import Hummingbird
import Logging
import RackswarmCore
import Reconciler
import ServiceLifecycle
import Torrent
import UnixSignals

/// `reconcile boot …`: the network boot side on its own: entries, DHCP reservations, the HTTP endpoint.
struct Boot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Write PXE/GRUB/iPXE entries and DHCP reservations, or serve the boot HTTP endpoint.",
        subcommands: [Sync.self, DnsmasqConfig.self, Serve.self])

    /// Loads the site; on a git error or an invalid site prints what is wrong and exits 1, writing nothing.
    static func load(_ source: SourceOptions) throws -> DesiredState {
        try source.loadSite(refusal: "nothing was written").desired
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Write every node's boot entry, prune nodes that left, and update DHCP reservations.",
            discussion: """
                Nodes running their image (per the state database) get the after-install entry. With \
                dhcp: managed, the dnsmasq hosts file is rewritten and dnsmasq (--dnsmasq-pid-file) gets SIGHUP; \
                with dhcp: external, the reservations to add by hand are printed. Exit 1 if any node failed.
                """)

        @OptionGroup var source: SourceOptions

        @Option(help: "State database (observed status).")
        var state: String = Settings.value("state", ".rackswarm/state.db")

        @OptionGroup var dnsmasq: DnsmasqOptions

        @OptionGroup var output: OutputOptions

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let desired = try Boot.load(source)
            var observed = ObservedState()
            if let store = try await StateLocation.openExisting(state) { observed = try await store.observedState() }
            let logger = Logger(label: "rackswarm.boot")
            let site = desired.site
            // Install entries carry a one-time token made with the site key; without it, installs cannot report.
            let key = try? SiteKey(contentsOfFile: site.agent.keyFile)
            if key == nil {
                Terminal.standardError.write("warning: site key \(site.agent.keyFile) unreadable: install entries "
                                             + "get no token, and their installs cannot report\n")
            }
            let driver = FileBootDriver(tftpRoot: site.boot.tftpRoot, httpRoot: site.boot.httpRoot,
                                        server: BootServerAddress(site.network),
                                        tokens: key.map(InstallTokenMinter.init(siteKey:)), logger: logger)
            let settings = DnsmasqSettings(site: site, hostsFile: dnsmasq.hosts.file(for: site))
            var siteFilesError: String?
            do {
                try await driver.writeSiteFiles()
            } catch {
                siteFilesError = "\(error)"
            }
            let reservations: (any DHCPReservationDriver)? = site.network.dhcp == .managed
                ? DnsmasqReservations(settings: settings, pidFile: dnsmasq.pidFile, logger: logger) : nil
            let result = await BootSynchronizer(driver: driver, reservations: reservations, logger: logger)
                .sync(desired: desired, observed: observed)
            let granted = site.network.dhcp == .external
                ? desired.nodes.filter { $0.state == .present && result.failed[$0.name] == nil }
                    .map(DHCPReservation.init)
                : nil
            let report = SyncReport(result: result, siteFilesError: siteFilesError,
                                    hostsFile: result.reservations == nil ? nil : settings.hostsFile,
                                    externalReservations: granted)
            switch output.output {
            case .json: try output.emit(try OutputOptions.jsonDocument(report))
            case .text: try output.emit(report.text(settings: settings))
            }
            if siteFilesError != nil || !result.failed.isEmpty || result.dhcpError != nil { throw ExitCode.failure }
        }

        /// What a sync did: `-o json` prints it as is, `-o text` one line per fact.
        struct SyncReport: Encodable {
            /// Node to the entry written: `install` or `localBoot`.
            var written: [String: String]
            var removed: [String]
            var pruned: [String]
            /// Node to why it got no entry.
            var failed: [String: String]
            var siteFilesError: String?
            /// Reservations handed to dnsmasq (`dhcp: managed`), and its hosts file.
            var reservations: Int?
            var hostsFile: String?
            var dhcpError: String?
            /// With `dhcp: external`, the reservations to add to the site's DHCP server by hand.
            var externalReservations: [DHCPReservation]?

            init(result: BootSyncResult, siteFilesError: String?, hostsFile: String?,
                 externalReservations: [DHCPReservation]?) {
                written = result.written
                removed = result.removed.sorted()
                pruned = result.pruned
                failed = result.failed.mapValues { "\($0)" }
                self.siteFilesError = siteFilesError
                reservations = result.reservations
                self.hostsFile = hostsFile
                dhcpError = result.dhcpError.map { "\($0)" }
                self.externalReservations = externalReservations
            }

            func text(settings: DnsmasqSettings) -> String {
                var lines = siteFilesError.map { ["failed: site files: \($0)"] } ?? []
                lines += written.sorted { $0.key < $1.key }.map { "wrote: \($0.key): \($0.value)" }
                lines += removed.map { "removed: \($0): installed, boots from disk" }
                lines += pruned.map { "pruned: \($0)" }
                lines += failed.sorted { $0.key < $1.key }.map { "failed: \($0.value)" }
                if let reservations, let hostsFile {
                    lines.append("dhcp: \(reservations) reservations in \(hostsFile)")
                }
                if let dhcpError { lines.append("failed: \(dhcpError)") }
                var text = lines.map { $0 + "\n" }.joined()
                if let externalReservations {
                    text += ExternalDHCP.instructions(externalReservations, settings: settings)
                }
                return text
            }
        }
    }

    struct DnsmasqConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dnsmasq-config", abstract: "Print the dnsmasq main configuration for the site.",
            discussion: """
                With several reconcilers, each host runs its own dnsmasq from this file with --advertise set to \
                that reconciler's own address: every DHCP server on the segment holds the same reservations and \
                offers itself as next-server, so a node boots through whichever answers first (docs/scale-out.md).
                """)

        @OptionGroup var source: SourceOptions

        @OptionGroup var dnsmasqHosts: DnsmasqHostsOption

        @Option(help: ArgumentHelp(
            "The next-server this dnsmasq offers (TFTP): this reconciler's --advertise address.",
            discussion: "Read from the environment and the settings file as `apply` reads it; "
                + "without it, the site's serverAddress."))
        var advertise: String? = Settings.value("advertise")

        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let desired = try Boot.load(source)
            let hosts = dnsmasqHosts.file(for: desired.site)
            var settings = DnsmasqSettings(site: desired.site, hostsFile: hosts)
            if let advertise {
                guard IPv4Address(advertise) != nil else {
                    throw ValidationError("--advertise for dnsmasq wants an IPv4 address (DHCP's next-server), "
                                          + "got '\(advertise)'")
                }
                settings.serverAddress = advertise
            }
            print(DnsmasqConfiguration.main(settings), terminator: "")
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Serve per-MAC iPXE scripts and the HTTP root (kernels, initrds, torrents) with ranges.")

        @OptionGroup var source: SourceOptions

        @Option(help: "Address to listen on.")
        var listen: String = "0.0.0.0"

        @Option(help: "Port; default: the site's network.httpPort.")
        var port: Int?

        @Flag(help: "Do not host the rack-aware tracker at /announce and /scrape.")
        var noTracker = false

        @Option(help: ArgumentHelp(
            "Serve /report/NODE: instructions from the site, each report appended to FILE as one JSON line.",
            discussion: "Records reports only; `reconcile apply` records them in the state database instead."))
        var reports: String?

        @Option(help: "Rotate the --reports file when it would pass this size (e.g. 64MiB).",
                transform: Quantity.bytesFlag(in: 4096 ... (1 << 40)))
        var reportsMaxSize: Int64 = 64 << 20

        @Option(help: "Rotated --reports files kept: FILE.1 (the newest) to FILE.N.")
        var reportsKeep: Int = 5

        /// `-o json` prints the listening line as JSON (`event`, `url`, `port`); `--out-file` receives it.
        @OptionGroup var output: OutputOptions

        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            if let port, !(1...65535).contains(port) { throw ValidationError("--port must be between 1 and 65535") }
            guard (0...1000).contains(reportsKeep) else { throw ValidationError("--reports-keep must be 0 to 1000") }
        }

        func run() async throws {
            let desired = try Boot.load(source)
            let logger = Logger(label: "rackswarm.boot-http")
            // Like the reconciler's, the tracker serves the site's images only: the torrents in the HTTP root.
            let torrents = SiteTorrents(desired: desired)
            let tracker = noTracker ? nil : TrackerService(tracker: Tracker(configuration: TrackerConfiguration(
                racksByHost: Convergence.racksByHost(desired), allowedInfoHashes: torrents.infoHashes(logger: logger),
                keepInRack: desired.site.distribution.keepInRack)))
            var server = BootHTTPServer(httpRoot: desired.site.boot.httpRoot, logger: logger, tracker: tracker)
            if let reports {
                let log = try ReportFile(path: reports, maxSize: reportsMaxSize, keep: reportsKeep)
                var known: [String: InstallInstructions] = [:]
                for node in desired.nodes where node.state == .present {
                    if let image = desired.image(named: node.image.value) {
                        known[node.name] = InstallInstructions(node: node, image: image, agent: desired.site.agent)
                    }
                }
                server.instructions = { [known] node in known[node] }
                server.onReport = { [known] node, report in
                    guard known[node] != nil else { throw BootHTTPServer.ReportRejection.unknownNode }
                    try await log.append(node: node, report: report)
                }
            }
            let root = desired.site.boot.httpRoot
            let app = server.application(host: listen, port: port ?? desired.site.network.httpPort) {
                [listen, output] port in
                do {
                    try output.line("serving \(root) on \(listen):\(port)",
                                      ListeningStatus(url: "http://\(listen):\(port)/", port: port, mode: nil))
                } catch {
                    logger.error("cannot write the listening line", metadata: ["error": "\(error)"])
                }
            }
            guard let tracker else { return try await app.runService() }
            let group = ServiceGroup(configuration: .init(
                services: [.init(service: app), .init(service: torrents.follower(tracker, logger: logger))],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }

    static func defaultHostsFile(_ site: Site) -> String {
        var parts = site.boot.tftpRoot.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count > 1 { parts.removeLast() }
        let parent = parts.joined(separator: "/")
        return (parent.isEmpty ? "" : parent) + "/dnsmasq-hosts"
    }
}

/// `--dnsmasq-hosts`: the dnsmasq hosts file (dhcp-hostsfile) of the boot commands and `apply`.
struct DnsmasqHostsOption: ParsableArguments {
    @Option(name: .customLong("dnsmasq-hosts"),
            help: "dnsmasq hosts file (dhcp-hostsfile). Default: TFTP root's parent /dnsmasq-hosts.")
    var path: String?

    /// The file the flag, the environment or the settings file names; nil for the site's default.
    var given: String? { path ?? Settings.value("dnsmasq-hosts") }

    /// The file given, or the site's default.
    func file(for site: Site) -> String { given ?? Boot.defaultHostsFile(site) }
}

/// `--dnsmasq-hosts` and `--dnsmasq-pid-file`: the dnsmasq that `boot sync` and `apply` write reservations for.
struct DnsmasqOptions: ParsableArguments {
    @OptionGroup var hosts: DnsmasqHostsOption

    @Option(name: .customLong("dnsmasq-pid-file"),
            help: "dnsmasq's pid file: it gets SIGHUP when the reservations change; without it, it is not signalled.")
    var pidFilePath: String?

    /// The pid file the flag, the environment or the settings file names.
    var pidFile: String? { pidFilePath ?? Settings.value("dnsmasq-pid-file") }
}
