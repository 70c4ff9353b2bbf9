import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// The first hop with several reconcilers (docs/scale-out.md): two real dnsmasq servers on one segment, each run
/// from `DnsmasqConfiguration.main` with its own address as next-server and the same reservations, over one shared
/// TFTP root. A client (busybox udhcpc, tftp-hpa) takes the first offer; with the server that answered killed,
/// the other offers the same reservation with itself as next-server, and serves the dispatcher and the node's
/// chain script.
extension DnsmasqNamespaceTests {
    @Test(.timeLimit(.minutes(1)))
    func whenTheDHCPServerThatAnsweredDiesTheOtherOffersItselfAndServesTheFirstHop() async throws {
        let pidFiles = ["dnsmasq-a.pid", "dnsmasq-b.pid"]
        try await withLab(Segment.create, stopping: pidFiles) { segment, directory, tools in
            try await exercise(segment, directory: directory, pidFiles: pidFiles.map { directory.path + "/" + $0 },
                               tools: tools)
        }
    }

    func exercise(_ segment: Segment, directory: TemporaryDirectory, pidFiles: [String], tools: DnsmasqTools)
        async throws
    {
        let (dnsmasq, udhcpc, tftp) = (tools.dnsmasq, tools.udhcpc, tools.tftp)
        let tftpRoot = try directory.subdirectory("tftp")
        try directory.write("http/boot/vmlinuz", Data("kernel".utf8))
        try directory.write("http/boot/initrd.img", Data("initrd".utf8))
        let logger = Logger(label: "test.dnsmasq")
        // The entry names its rack's holder; the dispatcher is the site's. One root, as every reconciler shares it.
        let holder = BootServerAddress(host: "10.77.0.2", httpPort: 8080)
        let driver = FileBootDriver(tftpRoot: tftpRoot, httpRoot: try directory.subdirectory("http"), server: holder,
                                    logger: logger)
        try await driver.writeSiteFiles()
        let node = Fixtures.install("n1", mac: "52:54:00:77:00:21", ip: "10.77.0.21", loader: .ipxe)
        try await driver.write(node)
        let servers = ["10.77.0.1", "10.77.0.2"]
        for (index, server) in servers.enumerated() {
            let name = ["a", "b"][index]
            let settings = DnsmasqSettings(serverAddress: server, network: "10.77.0.0", netmask: "255.255.255.0",
                                           tftpRoot: tftpRoot, hostsFile: directory.path + "/hosts-\(name)")
            try directory.write("dnsmasq-\(name).conf", Data(DnsmasqConfiguration.main(settings).utf8))
            try await DnsmasqReservations(settings: settings, pidFile: nil, logger: logger)
                .apply([DHCPReservation(node)])
            let started = await segment.run(segment.servers[index], [
                dnsmasq, "-C", directory.path + "/dnsmasq-\(name).conf", "--port=0",
                "--interface=\(segment.serverLinks[index])", "--bind-interfaces", "--pid-file=\(pidFiles[index])",
                "--dhcp-leasefile=\(directory.path)/leases-\(name)", "--user=root", "--log-dhcp",
                "--log-facility=\(directory.path)/dnsmasq-\(name).log",
            ])
            try #require(started.succeeded, "dnsmasq \(name): \(started.output)")
        }
        #expect(try directory.read("hosts-a") == directory.read("hosts-b"), "the same reservations on both")
        let client = segment.client

        // iPXE asking (option 175): the first offer wins, from either server, naming itself as next-server.
        let first = try await client.dhcp(udhcpc: udhcpc, mac: node.mac, directory: directory,
                                          extra: ["-x", "0xaf:0101"])
        let answered = try #require(servers.firstIndex { $0 == first["siaddr"] }, "no offer: \(first)")
        #expect(first["ip"] == "10.77.0.21" && first["boot_file"] == "rackswarm.ipxe", "\(first)")
        // Both were on the segment: the other one offered too, and lost the race.
        let other = ["a", "b"][1 - answered]
        #expect(try await eventually(10) {
            ((try? directory.read("dnsmasq-\(other).log")) ?? "").contains("DHCPOFFER")
        }, "\((try? directory.read("dnsmasq-\(other).log")) ?? "")")

        // That server's host dies: the other one's offer is the only one, with the same address and itself.
        let pid = try #require(Int32(try String(contentsOfFile: pidFiles[answered], encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
        #expect(await processesExit([pid], within: 10), "dnsmasq \(pid) outlived SIGKILL")
        let survivor = servers[1 - answered]
        let second = try await client.dhcp(udhcpc: udhcpc, mac: node.mac, directory: directory,
                                           extra: ["-x", "0xaf:0101"])
        #expect(second["ip"] == "10.77.0.21" && second["siaddr"] == survivor
                    && second["boot_file"] == "rackswarm.ipxe", "\(second)")

        // The survivor serves the first hop from the shared root: the dispatcher, and the chain script that sends
        // the node to its rack's holder.
        _ = await client.run(server: false, ["ip", "addr", "add", "10.77.0.21/24", "dev", client.clientLink])
        for (path, saved) in [("rackswarm.ipxe", "got-dispatcher"), ("ipxe/\(node.pxeName).ipxe", "got-chain")] {
            let got = await client.run(server: false, [tftp, "-m", "binary", survivor, "-c", "get", path,
                                                       directory.path + "/" + saved], timeout: .seconds(10))
            #expect(got.succeeded, "tftp \(path) from \(survivor): \(got.output)")
            #expect(try directory.read(saved) == directory.read("tftp/" + path))
        }
        #expect(try directory.read("got-dispatcher").contains("chain ipxe/01-${mac:hexhyp}.ipxe"))
        #expect(try directory.read("got-chain").contains("chain \(holder.httpBase)/ipxe/"),
                "\((try? directory.read("got-chain")) ?? "")")
        print("dnsmasq pair: the first offer came from \(servers[answered]); after its kill, from \(survivor)")
    }

    /// Two server namespaces and a client namespace whose bridge joins both veth pairs: one broadcast segment.
    struct Segment: TestNamespaces {
        let ip: String
        let servers: [String]
        let serverLinks: [String]
        /// The client's side: `clientNamespace`, with the bridge as `clientLink`, for `NamespaceLab.dhcp`.
        let client: NamespaceLab

        var namespaces: [String] { servers + [client.clientNamespace] }

        static func create(ip: String) async throws -> Segment {
            let tag = uniqueTag()
            let servers = ["rsdh-\(tag)-a", "rsdh-\(tag)-b"]
            let links = ["rd\(tag)a", "rd\(tag)b"]
            let client = NamespaceLab(ip: ip, serverNamespace: servers[0], clientNamespace: "rsdh-\(tag)-c",
                                      serverLink: links[0], clientLink: "rd\(tag)x")
            let segment = Segment(ip: ip, servers: servers, serverLinks: links, client: client)
            let namespace = client.clientNamespace
            var commands = [["netns", "add", namespace], ["-n", namespace, "link", "set", "lo", "up"],
                            ["-n", namespace, "link", "add", client.clientLink, "type", "bridge", "forward_delay", "0"]]
            for (index, server) in servers.enumerated() {
                let (link, peer) = (links[index], links[index] + "p")
                commands += [
                    ["netns", "add", server], ["link", "add", link, "type", "veth", "peer", "name", peer],
                    ["link", "set", link, "netns", server], ["link", "set", peer, "netns", namespace],
                    ["-n", server, "addr", "add", "10.77.0.\(index + 1)/24", "dev", link],
                    ["-n", server, "link", "set", link, "up"], ["-n", server, "link", "set", "lo", "up"],
                    ["-n", namespace, "link", "set", peer, "master", client.clientLink],
                    ["-n", namespace, "link", "set", peer, "up"],
                ]
            }
            commands.append(["-n", namespace, "link", "set", client.clientLink, "up"])
            try await segment.build(commands)
            return segment
        }

        func run(_ namespace: String, _ command: [String]) async -> CommandResult {
            await runTool(ip, ["netns", "exec", namespace] + command, timeout: .seconds(10))
        }
    }
}
