import Drivers
import Foundation
import LabSupport
import Testing

/// The generated dnsmasq files pass `dnsmasq --test`; the external mode prints every reservation.
struct DnsmasqConfigurationTests {
    static let settings = DnsmasqSettings(serverAddress: "10.77.0.1", network: "10.77.0.0", netmask: "255.255.255.0",
                                          tftpRoot: "/srv/rackswarm/tftp", hostsFile: "/srv/rackswarm/dhcp-hosts")
    static let reservations = [
        DHCPReservation(node: "r1n1", mac: "52:54:00:77:01:01", ip: "10.77.0.11", loader: .pxelinux),
        DHCPReservation(node: "r2n3", mac: "52-54-00-77-02-03", ip: "10.77.0.23", loader: .grub),
        DHCPReservation(node: "r1n4", mac: "52:54:00:77:01:04", ip: "10.77.0.14", loader: .ipxe),
        DHCPReservation(node: "-odd", mac: "52:54:00:77:01:05", ip: "10.77.0.15", loader: .ipxe),
    ]

    @Test func generatedConfigurationAndReservationsPassDnsmasqTest() async throws {
        let dnsmasq = try #require(tool("dnsmasq"), "dnsmasq is not installed (boot.apt)")
        let directory = try TemporaryDirectory()
        let hosts = DnsmasqConfiguration.hosts(Self.reservations)
        #expect(hosts.contains("52:54:00:77:01:01,10.77.0.11,r1n1,infinite\n"))
        #expect(hosts.contains("52:54:00:77:02:03,10.77.0.23,r2n3,infinite\n"))
        #expect(hosts.contains("52:54:00:77:01:05,10.77.0.15,infinite\n"), "no invalid hostname")
        #expect(!hosts.contains("set:"), "dnsmasq 2.90 aborts on SIGHUP with tags in the hosts file")
        // --test does not read the hosts file, so check its lines as dhcp-host options of the main file.
        let hostLines = hosts.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { "dhcp-host=\($0)" }
        let conf = DnsmasqConfiguration.main(Self.settings) + hostLines.joined(separator: "\n") + "\n"
        try directory.write("dnsmasq.conf", Data(conf.utf8))
        let result = await runTool(dnsmasq, ["--test", "-C", directory.path + "/dnsmasq.conf"], timeout: .seconds(10))
        #expect(result.succeeded && result.output.contains("syntax check OK"), "\(result.output)\n\(conf)")

        // The same line with the node name dnsmasq refuses as a host name: what `hosts` must never write.
        try directory.write("broken.conf", Data((conf + "dhcp-host=52:54:00:77:01:05,10.77.0.15,-odd\n").utf8))
        let broken = await runTool(dnsmasq, ["--test", "-C", directory.path + "/broken.conf"], timeout: .seconds(10))
        #expect(!broken.succeeded)
    }

    @Test func externalModePrintsEveryReservation() {
        let text = ExternalDHCP.instructions(Self.reservations, settings: Self.settings)
        for reservation in Self.reservations {
            #expect(text.contains("hardware ethernet \(reservation.mac);"))
            #expect(text.contains("fixed-address \(reservation.ip);"))
        }
        #expect(text.contains("filename \"rackswarm.ipxe\""))
        #expect(text.contains("filename \"ipxe.efi\""))
        #expect(text.contains("filename \"undionly.kpxe\""))
        #expect(text.contains("next-server 10.77.0.1;"))
    }

    /// Several reconcilers: each host's dnsmasq offers that reconciler (`--advertise`) as next-server for every
    /// boot file, with the same reservations; a dnsmasq of each passes `dnsmasq --test`. The default stays the
    /// site's serverAddress, and a next-server that is no IPv4 address is refused.
    @Test func eachReconcilersDnsmasqOffersItselfAsNextServer() async throws {
        let dnsmasq = try #require(tool("dnsmasq"), "dnsmasq is not installed (boot.apt)")
        let binary = packageRoot + "/.build/debug/reconcile"
        let directory = try TemporaryDirectory()
        let site = packageRoot + "/examples/datacenter"
        let base = ["boot", "dnsmasq-config", "--repo", site, "--dnsmasq-hosts", directory.path + "/hosts"]
        let plain = await runTool(binary, base)
        #expect(plain.succeeded, "\(plain.output)")
        #expect(plain.output.contains("dhcp-boot=tag:ipxe,rackswarm.ipxe,,10.77.0.1\n"), "\(plain.output)")
        for address in ["10.77.0.2", "10.77.0.3"] {
            let own = await runTool(binary, base + ["--advertise", address])
            #expect(own.succeeded, "\(own.output)")
            let boots = own.output.split(separator: "\n").filter { $0.hasPrefix("dhcp-boot=") }
            #expect(boots.count == 3 && boots.allSatisfy { $0.hasSuffix(",,\(address)") }, "\(own.output)")
            #expect(own.output.replacingOccurrences(of: ",,\(address)\n", with: ",,10.77.0.1\n") == plain.output,
                    "only the next-server differs")
            try directory.write("dnsmasq-\(address).conf", Data(own.output.utf8))
            let checked = await runTool(dnsmasq, ["--test", "-C", directory.path + "/dnsmasq-\(address).conf"],
                                        timeout: .seconds(10))
            #expect(checked.succeeded && checked.output.contains("syntax check OK"), "\(checked.output)")
        }
        let refused = await runTool(binary, base + ["--advertise", "boot.example.net"])
        #expect(!refused.succeeded && refused.output.contains("IPv4 address"), "\(refused.output)")
    }
}
