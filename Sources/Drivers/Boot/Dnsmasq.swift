import Foundation
import Logging

/// The dnsmasq side of the provisioning network: a static main file, and a hosts file reloaded on SIGHUP.
public struct DnsmasqSettings: Sendable, Hashable {
    /// The boot file DHCP names for each loader, relative to the TFTP root.
    public struct BootFiles: Sendable, Hashable {
        public var pxelinux: String
        public var grub: String
        /// What a plain PXE ROM of an iPXE node loads: an iPXE build.
        public var ipxeROM: String
        /// What a node already running iPXE (DHCP option 175) loads: the site dispatcher script.
        public var ipxeScript: String

        public init(pxelinux: String = "pxelinux.0", grub: String = "grub/grubnetx64.efi",
                    ipxeROM: String = "undionly.kpxe", ipxeScript: String = "rackswarm.ipxe") {
            self.pxelinux = pxelinux
            self.grub = grub
            self.ipxeROM = ipxeROM
            self.ipxeScript = ipxeScript
        }
    }

    public var serverAddress: String
    /// The provisioning subnet's network address and mask: `10.77.0.0`, `255.255.255.0`.
    public var network: String
    public var netmask: String
    public var tftpRoot: String
    /// The hosts file dnsmasq rereads on SIGHUP (`dhcp-hostsfile`).
    public var hostsFile: String
    public var bootFiles: BootFiles

    public init(serverAddress: String, network: String, netmask: String, tftpRoot: String, hostsFile: String,
                bootFiles: BootFiles = BootFiles()) {
        self.serverAddress = serverAddress
        self.network = network
        self.netmask = netmask
        self.tftpRoot = tftpRoot
        self.hostsFile = hostsFile
        self.bootFiles = bootFiles
    }
}

/// Renders dnsmasq's files. Pure.
public enum DnsmasqConfiguration {
    /// The main file: static-only DHCP on the subnet, TFTP, and one boot file per loader tag.
    ///
    /// It changes only when the site does; nodes come and go through the hosts file.
    public static func main(_ settings: DnsmasqSettings) -> String {
        let server = settings.serverAddress
        let files = settings.bootFiles
        return """
            \(BootEntryRenderer.marker)
            # Only hosts with a reservation get an address: no dynamic pool.
            dhcp-range=\(settings.network),static,\(settings.netmask),infinite
            dhcp-hostsfile=\(settings.hostsFile)
            enable-tftp
            tftp-root=\(settings.tftpRoot)
            dhcp-match=set:ipxe,175
            dhcp-boot=tag:rs-pxelinux,\(files.pxelinux),,\(server)
            dhcp-boot=tag:rs-grub,\(files.grub),,\(server)
            dhcp-boot=tag:rs-ipxe,tag:!ipxe,\(files.ipxeROM),,\(server)
            dhcp-boot=tag:rs-ipxe,tag:ipxe,\(files.ipxeScript),,\(server)

            """
    }

    /// One `dhcp-host` line per reservation: `52:54:00:aa:00:01,set:rs-pxelinux,10.77.0.11,n1,infinite`.
    public static func hosts(_ reservations: [DHCPReservation]) -> String {
        var text = "\(BootEntryRenderer.marker)\n"
        for reservation in reservations.sorted(by: { $0.node < $1.node }) {
            var fields = [reservation.mac, "set:rs-\(reservation.loader.rawValue)", reservation.ip]
            if isHostname(reservation.node) { fields.append(reservation.node) }
            fields.append("infinite")
            text += fields.joined(separator: ",") + "\n"
        }
        return text
    }

    /// Whether dnsmasq accepts `name` as a host name (RFC 1123 label).
    static func isHostname(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 63 && name.first != "-" && name.last != "-"
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}

/// Keeps a running dnsmasq's reservations: writes the hosts file atomically, then sends SIGHUP.
///
/// dnsmasq rereads `dhcp-hostsfile` on SIGHUP and keeps its leases.
public actor DnsmasqReservations: DHCPReservationDriver {
    public let settings: DnsmasqSettings
    /// dnsmasq's `--pid-file`; nil writes the file only (dnsmasq not running yet).
    public let pidFile: String?
    private let logger: Logger

    public init(settings: DnsmasqSettings, pidFile: String?, logger: Logger) {
        self.settings = settings
        self.pidFile = pidFile
        self.logger = logger
    }

    public func apply(_ reservations: [DHCPReservation]) throws {
        do {
            try AtomicFile.write(Array(DnsmasqConfiguration.hosts(reservations).utf8), to: settings.hostsFile)
        } catch {
            throw BootError(.unwritable, node: "", path: error.path, error.reason)
        }
        guard let pidFile else { return }
        let text = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
        guard let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else {
            throw BootError(.dhcpReload, node: "", path: pidFile, "dnsmasq's pid file holds no process id")
        }
        guard kill(pid, SIGHUP) == 0 else {
            throw BootError(.dhcpReload, node: "", path: pidFile,
                            "cannot signal dnsmasq (pid \(pid)): \(String(cString: strerror(errno)))")
        }
        logger.info("reloaded dnsmasq reservations", metadata: [
            "dhcp.reservations": "\(reservations.count)", "dhcp.pid": "\(pid)",
        ])
    }
}

/// For a site that runs its own DHCP: the reservations an operator must add, as ISC dhcpd `host` blocks.
public enum ExternalDHCP {
    public static func instructions(_ reservations: [DHCPReservation], settings: DnsmasqSettings) -> String {
        var text = "# rackswarm does not manage DHCP on this site. Add these reservations to your DHCP server\n"
            + "# (ISC dhcpd syntax; next-server is the TFTP server, filename the boot file):\n"
        for reservation in reservations.sorted(by: { $0.node < $1.node }) {
            let file: String
            switch reservation.loader {
            case .pxelinux: file = settings.bootFiles.pxelinux
            case .grub: file = settings.bootFiles.grub
            case .ipxe: file = settings.bootFiles.ipxeROM
            }
            text += """
                host \(reservation.node) {
                  hardware ethernet \(reservation.mac);
                  fixed-address \(reservation.ip);
                  next-server \(settings.serverAddress);
                  filename "\(file)";\(reservation.loader == .ipxe
                    ? "\n  if exists user-class and option user-class = \"iPXE\" { filename \"\(settings.bootFiles.ipxeScript)\"; }"
                    : "")
                }

                """
        }
        return text
    }
}
