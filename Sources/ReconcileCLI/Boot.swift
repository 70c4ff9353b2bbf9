import ArgumentParser
import BootServer
import Drivers
import Foundation
import Hummingbird
import Logging
import Reconciler
import Torrent

/// `reconcile boot …`: the network boot side on its own: entries, DHCP reservations, the HTTP endpoint.
struct Boot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write PXE/GRUB/iPXE entries and DHCP reservations, or serve the boot HTTP endpoint.",
        subcommands: [Sync.self, DnsmasqConfig.self, Serve.self])

    /// Loads the site; on a git error or an invalid site prints what is wrong and exits 1, writing nothing.
    static func load(_ source: SourceOptions) throws -> DesiredState {
        try source.loadSite(refusal: "nothing was written").desired
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every node's boot entry, prune nodes that left, and update DHCP reservations.",
            discussion: """
                Nodes running their image (per the state database) get the after-install entry. With \
                dhcp: managed, the dnsmasq hosts file is rewritten and dnsmasq (--dnsmasq-pid-file) gets SIGHUP; \
                with dhcp: external, the reservations to add by hand are printed. Exit 1 if any node failed.
                """)

        @OptionGroup var source: SourceOptions

        @Option(help: "State database (observed status).")
        var state: String = ".rackswarm/state.db"

        @OptionGroup var dnsmasqHosts: DnsmasqHostsOption

        @Option(help: "dnsmasq's pid file; without it the hosts file is written and dnsmasq is not signalled.")
        var dnsmasqPidFile: String?

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
            let settings = DnsmasqSettings(site: site, hostsFile: dnsmasqHosts.file(for: site))
            var failed = false
            do {
                try await driver.writeSiteFiles()
            } catch {
                print("failed: site files: \(error)")
                failed = true
            }
            let reservations: (any DHCPReservationDriver)? = site.network.dhcp == .managed
                ? DnsmasqReservations(settings: settings, pidFile: dnsmasqPidFile, logger: logger) : nil
            let result = await BootSynchronizer(driver: driver, reservations: reservations, logger: logger)
                .sync(desired: desired, observed: observed)
            for (node, mode) in result.written.sorted(by: { $0.key < $1.key }) { print("wrote: \(node): \(mode)") }
            for node in result.removed.sorted() { print("removed: \(node): installed, boots from disk") }
            for node in result.pruned { print("pruned: \(node)") }
            for (_, error) in result.failed.sorted(by: { $0.key < $1.key }) { print("failed: \(error)") }
            if let count = result.reservations { print("dhcp: \(count) reservations in \(settings.hostsFile)") }
            if let error = result.dhcpError { print("failed: \(error)") }
            if site.network.dhcp == .external {
                let granted = desired.nodes.filter { $0.state == .present && result.failed[$0.name] == nil }
                print(ExternalDHCP.instructions(granted.map(DHCPReservation.init), settings: settings), terminator: "")
            }
            if failed || !result.failed.isEmpty || result.dhcpError != nil { throw ExitCode.failure }
        }
    }

    struct DnsmasqConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dnsmasq-config", abstract: "Print the dnsmasq main configuration for the site.")

        @OptionGroup var source: SourceOptions

        @OptionGroup var dnsmasqHosts: DnsmasqHostsOption

        func run() async throws {
            let desired = try Boot.load(source)
            let hosts = dnsmasqHosts.file(for: desired.site)
            print(DnsmasqConfiguration.main(DnsmasqSettings(site: desired.site, hostsFile: hosts)), terminator: "")
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
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

        func validate() throws {
            if let port, !(1...65535).contains(port) { throw ValidationError("--port must be between 1 and 65535") }
        }

        func run() async throws {
            let desired = try Boot.load(source)
            let logger = Logger(label: "rackswarm.boot-http")
            var racks: [String: String] = [:]
            for node in desired.nodes { racks[node.ip.value.description] = node.rack.value }
            let tracker = noTracker
                ? nil : TrackerService(tracker: Tracker(configuration: TrackerConfiguration(racksByHost: racks)))
            var server = BootHTTPServer(httpRoot: desired.site.boot.httpRoot, logger: logger, tracker: tracker)
            if let reports {
                let log = try ReportLog(path: reports)
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
            let app = server.application(host: listen, port: port ?? desired.site.network.httpPort) { port in
                print("serving \(desired.site.boot.httpRoot) on \(listen):\(port)")
            }
            try await app.runService()
        }
    }

    /// Appends each install report to a file as one JSON line: `{"node":…,"report":{…}}`.
    actor ReportLog {
        let handle: FileHandle

        init(path: String) throws {
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw ValidationError("cannot create --reports file \(path)")
                }
            }
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw ValidationError("cannot write --reports file \(path)")
            }
            handle.seekToEndOfFile()
            self.handle = handle
        }

        struct Line: Encodable {
            var node: String
            var report: InstallReport
        }

        func append(node: String, report: InstallReport) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var data = try encoder.encode(Line(node: node, report: report))
            data.append(0x0A)
            try handle.write(contentsOf: data)
            try handle.synchronize()
        }
    }

    static func defaultHostsFile(_ site: Site) -> String {
        var parts = site.boot.tftpRoot.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count > 1 { parts.removeLast() }
        let parent = parts.joined(separator: "/")
        return (parent.isEmpty ? "" : parent) + "/dnsmasq-hosts"
    }
}

/// `--dnsmasq-hosts`: the dnsmasq hosts file (dhcp-hostsfile) of the boot commands.
struct DnsmasqHostsOption: ParsableArguments {
    @Option(name: .customLong("dnsmasq-hosts"),
            help: "dnsmasq hosts file (dhcp-hostsfile). Default: TFTP root's parent /dnsmasq-hosts.")
    var path: String?

    /// The file given, or the site's default.
    func file(for site: Site) -> String { path ?? Boot.defaultHostsFile(site) }
}
