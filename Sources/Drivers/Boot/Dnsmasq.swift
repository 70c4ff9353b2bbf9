import Foundation
import Logging
import MemberwiseInit

/// The dnsmasq side of the provisioning network: a static main file, and a hosts file reloaded on SIGHUP.
@PublicMemberwiseInit
public struct DnsmasqSettings: Sendable, Hashable {
    public var serverAddress: String
    /// The provisioning subnet's network address and mask: `10.77.0.0`, `255.255.255.0`.
    public var network: String
    public var netmask: String
    public var tftpRoot: String
    /// The hosts file dnsmasq rereads on SIGHUP (`dhcp-hostsfile`).
    public var hostsFile: String
    public var bootFiles: BootLoaderFiles = .standard
}

/// Renders dnsmasq's files. Pure.
public enum DnsmasqConfiguration {
    /// The main file: static-only DHCP on the subnet, TFTP, and the first stage by architecture.
    ///
    /// No per-host tags: every node first runs iPXE (BIOS or UEFI build), whose dispatcher chains the node's
    /// per-MAC script. dnsmasq 2.90 aborts on SIGHUP when a hosts-file line sets a tag and a lease exists, and
    /// per-node choices in this file would need a restart. It changes only when the site does.
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
            dhcp-match=set:efi64,option:client-arch,7
            dhcp-match=set:efi64,option:client-arch,9
            dhcp-boot=tag:ipxe,\(files.dispatcher),,\(server)
            dhcp-boot=tag:!ipxe,tag:efi64,\(files.uefiIPXE),,\(server)
            dhcp-boot=tag:!ipxe,tag:!efi64,\(files.biosIPXE),,\(server)

            """
    }

    /// One `dhcp-host` line per reservation: `52:54:00:aa:00:01,10.77.0.11,n1,infinite`.
    public static func hosts(_ reservations: [DHCPReservation]) -> String {
        var text = "\(BootEntryRenderer.marker)\n"
        for reservation in reservations.sorted(by: { $0.node < $1.node }) {
            var fields = [reservation.mac, reservation.ip]
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
        text += """
            # Every node boots iPXE first; iPXE clients (user-class "iPXE") get the dispatcher script.
            #   BIOS (arch 0): \(settings.bootFiles.biosIPXE)   UEFI x86-64 (arch 7, 9): \(settings.bootFiles.uefiIPXE)
            #   iPXE: \(settings.bootFiles.dispatcher)
            option arch code 93 = unsigned integer 16;

            """
        for reservation in reservations.sorted(by: { $0.node < $1.node }) {
            text += """
                host \(reservation.node) {
                  hardware ethernet \(reservation.mac);
                  fixed-address \(reservation.ip);
                  next-server \(settings.serverAddress);
                  if exists user-class and option user-class = "iPXE" {
                    filename "\(settings.bootFiles.dispatcher)";
                  } elsif option arch = 00:07 or option arch = 00:09 {
                    filename "\(settings.bootFiles.uefiIPXE)";
                  } else {
                    filename "\(settings.bootFiles.biosIPXE)";
                  }
                }

                """
        }
        return text
    }
}
