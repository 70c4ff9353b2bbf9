import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// dnsmasq in a test-made network namespace, with our generated files, against busybox's udhcpc and tftp-hpa in
/// a second namespace on a veth pair: reserved IP and boot file, TFTP fetch of the entry, SIGHUP reload.
/// The programs the namespace tests drive, from scripts/packages/boot.apt; a missing one fails the test by name.
struct DnsmasqTools {
    let ip: String
    let dnsmasq: String
    let udhcpc: String
    let tftp: String

    init() throws {
        ip = try #require(tool("ip"), "iproute2 is not installed (boot.apt)")
        dnsmasq = try #require(tool("dnsmasq"), "dnsmasq is not installed (boot.apt)")
        udhcpc = try #require(tool("udhcpc"), "udhcpc is not installed (boot.apt)")
        tftp = try #require(tool("tftp"), "tftp-hpa is not installed (boot.apt)")
    }
}

struct DnsmasqNamespaceTests {
    @Test(.timeLimit(.minutes(1)))
    func aRealClientGetsItsReservationAndEntryAndAReloadAddsANode() async throws {
        try await withLab(NamespaceLab.create, stopping: ["dnsmasq.pid"]) { lab, directory, tools in
            try await exercise(lab: lab, directory: directory, tools: tools)
        }
    }

    /// Finds the tools, makes a temporary directory and a lab, and runs `body` in them; then stops the dnsmasq
    /// servers whose pid files (in the directory) are named in `pidFiles` and deletes the lab's namespaces.
    func withLab<Lab: TestNamespaces>(
        _ create: (String) async throws -> Lab, stopping pidFiles: [String],
        _ body: (Lab, TemporaryDirectory, DnsmasqTools) async throws -> Void
    ) async throws {
        let tools = try DnsmasqTools()
        let directory = try TemporaryDirectory("rackswarm-dnsmasq")
        let lab = try await create(tools.ip)
        try await lab.run(stopping: pidFiles.map { directory.path + "/" + $0 }) {
            try await body(lab, directory, tools)
        }
    }

    func exercise(lab: NamespaceLab, directory: TemporaryDirectory, tools: DnsmasqTools) async throws {
        let (dnsmasq, udhcpc, tftp) = (tools.dnsmasq, tools.udhcpc, tools.tftp)
        let tftpRoot = try directory.subdirectory("tftp")
        let httpRoot = try directory.subdirectory("http")
        try directory.write("tftp/boot/vmlinuz", Data("kernel".utf8))
        try directory.write("tftp/boot/initrd.img", Data("initrd".utf8))
        try directory.write("http/boot/vmlinuz", Data("kernel".utf8))
        try directory.write("http/boot/initrd.img", Data("initrd".utf8))
        let server = BootServerAddress(host: "10.77.0.1", httpPort: 8080)
        let logger = Logger(label: "test.dnsmasq")
        let driver = FileBootDriver(tftpRoot: tftpRoot, httpRoot: httpRoot, server: server, logger: logger)
        let first = Fixtures.install("n1", mac: "52:54:00:77:00:11", ip: "10.77.0.11", loader: .pxelinux)
        let second = Fixtures.install("n2", mac: "52:54:00:77:00:12", ip: "10.77.0.12", loader: .ipxe)
        try await driver.write(first)

        let settings = DnsmasqSettings(serverAddress: "10.77.0.1", network: "10.77.0.0", netmask: "255.255.255.0",
                                       tftpRoot: tftpRoot, hostsFile: directory.path + "/dhcp-hosts")
        try directory.write("dnsmasq.conf", Data(DnsmasqConfiguration.main(settings).utf8))
        let pidFile = directory.path + "/dnsmasq.pid"
        let leases = directory.path + "/leases"
        try await DnsmasqReservations(settings: settings, pidFile: nil, logger: logger).apply([DHCPReservation(first)])
        let started = await lab.run(server: true, [dnsmasq, "-C", directory.path + "/dnsmasq.conf", "--port=0",
            "--interface=\(lab.serverLink)", "--bind-interfaces", "--pid-file=\(pidFile)", "--dhcp-leasefile=\(leases)",
            "--user=root", "--log-dhcp", "--log-facility=\(directory.path)/dnsmasq.log"])
        try #require(started.succeeded, "dnsmasq: \(started.output)")
        let pid = try #require(Int32(try directory.read("dnsmasq.pid").trimmingCharacters(in: .whitespacesAndNewlines)))

        // A BIOS client with n1's MAC gets n1's address, BIOS iPXE and our server, then fetches its entries.
        let lease1 = try await lab.dhcp(udhcpc: udhcpc, mac: first.mac, directory: directory)
        #expect(lease1["ip"] == "10.77.0.11" && lease1["boot_file"] == "undionly.kpxe"
                    && lease1["siaddr"] == "10.77.0.1",
                "\(lease1) \((try? directory.read("dnsmasq.log")) ?? "")")
        _ = await lab.run(server: false, ["ip", "addr", "add", "\(lease1["ip"] ?? "10.77.0.11")/24",
                                          "dev", lab.clientLink])
        let fetched = directory.path + "/fetched-entry"
        let got = await lab.run(server: false, [tftp, "-m", "binary", "10.77.0.1", "-c", "get",
                                                "pxelinux.cfg/\(first.pxeName)", fetched], timeout: .seconds(10))
        #expect(got.succeeded, "tftp: \(got.output)")
        #expect(try directory.read("fetched-entry") == directory.read("tftp/pxelinux.cfg/\(first.pxeName)"))
        #expect(try directory.read("fetched-entry").contains("rackswarm.node=n1"))
        let chain = await lab.run(server: false, [tftp, "-m", "binary", "10.77.0.1", "-c", "get",
                                                  "ipxe/\(first.pxeName).ipxe", fetched + ".ipxe"],
                                timeout: .seconds(10))
        #expect(chain.succeeded, "tftp: \(chain.output)")
        #expect(try directory.read("fetched-entry.ipxe").contains("chain /pxelinux.0"))

        // The same node once iPXE runs (option 175) gets the dispatcher script, and keeps its address.
        let again = try await lab.dhcp(udhcpc: udhcpc, mac: first.mac, directory: directory, extra: ["-x", "0xaf:0101"])
        #expect(again["ip"] == "10.77.0.11" && again["boot_file"] == "rackswarm.ipxe", "\(again)")

        // A MAC without a reservation gets nothing: the range is static-only.
        let stranger = try await lab.dhcp(udhcpc: udhcpc, mac: "52:54:00:77:00:99", directory: directory, tries: 2)
        #expect(stranger.isEmpty, "an unreserved MAC got \(stranger)")

        // n2 joins: new hosts file and SIGHUP to the same dnsmasq, which keeps n1's lease.
        try await driver.write(second)
        let reads = {
            ((try? directory.read("dnsmasq.log")) ?? "").components(separatedBy: "read \(settings.hostsFile)").count
        }
        let before = reads()
        try await DnsmasqReservations(settings: settings, pidFile: pidFile, logger: logger)
            .apply([DHCPReservation(first), DHCPReservation(second)])
        // Readiness, not a sleep: dnsmasq logs each time it rereads the hosts file.
        for _ in 0..<250 where reads() == before { try await Task.sleep(for: .milliseconds(20)) }
        #expect(reads() > before, "dnsmasq did not reread its hosts file after SIGHUP")
        // n2 is a UEFI x86-64 client (option 93 = 7): UEFI iPXE.
        let lease2 = try await lab.dhcp(udhcpc: udhcpc, mac: second.mac, directory: directory,
                                        extra: ["-x", "0x5d:0007"])
        #expect(lease2["ip"] == "10.77.0.12" && lease2["boot_file"] == "ipxe.efi",
                "\(lease2) \((try? directory.read("dnsmasq.log")) ?? "")")
        #expect(kill(pid, 0) == 0, "dnsmasq exited on reload")
        #expect(try directory.read("dnsmasq.pid").trimmingCharacters(in: .whitespacesAndNewlines) == String(pid))
        let leaseText = try directory.read("leases")
        #expect(leaseText.contains("52:54:00:77:00:11 10.77.0.11")
                    && leaseText.contains("52:54:00:77:00:12 10.77.0.12"),
                "\(leaseText)")
    }
}

/// Network namespaces a test made, named uniquely per run, and the dnsmasq servers it started in them. Every
/// change to the host's namespaces is made under one lock, so parallel runs never interleave them.
protocol TestNamespaces: Sendable {
    var ip: String { get }
    /// Every namespace the lab made; deleting them deletes their links.
    var namespaces: [String] { get }
}

extension TestNamespaces {
    /// A tag for this run's names: short enough for an interface name (15 bytes) with a prefix and a suffix.
    static func uniqueTag() -> String {
        String(format: "%05x%01x", getpid() & 0xFFFFF, Int.random(in: 0..<16))
    }

    /// Runs the `ip` commands that build the lab; on the first failure deletes what they made and throws.
    func build(_ commands: [[String]]) async throws {
        let failure: String? = await Self.withLock {
            for command in commands {
                let result = await runTool(ip, command, timeout: .seconds(10))
                if !result.succeeded { return "ip \(command.joined(separator: " ")): \(result.output)" }
            }
            return nil
        }
        if let failure {
            await destroy(pidFiles: [])
            throw BootError(.unwritable, node: "", path: "", "cannot make the test network: \(failure)")
        }
    }

    /// Runs `body`, then stops the servers and deletes the namespaces whether it returned or threw, and expects
    /// that no namespace is left.
    func run(stopping pidFiles: [String], _ body: () async throws -> Void) async throws {
        try await withTeardown(body) { await destroy(pidFiles: pidFiles) }
        #expect(await isGone(), "the test's namespaces are still there")
    }

    /// Stops each dnsmasq by the PID in its pid file (SIGTERM, SIGKILL after 2 s), then deletes the namespaces.
    func destroy(pidFiles: [String]) async {
        for pidFile in pidFiles {
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1, processIsAlive(pid)
            else { continue }
            kill(pid, SIGTERM)
            if !(await processesExit([pid], within: 2)) { kill(pid, SIGKILL) }
        }
        await Self.withLock {
            for namespace in namespaces { _ = await runTool(ip, ["netns", "delete", namespace]) }
        }
    }

    func isGone() async -> Bool {
        let list = await runTool(ip, ["netns", "list"]).output
        return !namespaces.contains { list.contains($0) }
    }

    /// Holds `/tmp/rackswarm-netns.lock` while `body` runs.
    static func withLock<T: Sendable>(_ body: () async -> T) async -> T {
        let descriptor = open("/tmp/rackswarm-netns.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if descriptor >= 0 { flock(descriptor, LOCK_EX) }
        let result = await body()
        if descriptor >= 0 {
            flock(descriptor, LOCK_UN)
            close(descriptor)
        }
        return result
    }
}

/// Two network namespaces joined by a veth pair.
struct NamespaceLab: TestNamespaces {
    let ip: String
    let serverNamespace: String
    let clientNamespace: String
    let serverLink: String
    let clientLink: String

    var namespaces: [String] { [serverNamespace, clientNamespace] }

    static func create(ip: String) async throws -> NamespaceLab {
        let tag = uniqueTag()
        let lab = NamespaceLab(ip: ip, serverNamespace: "rsboot-\(tag)-s", clientNamespace: "rsboot-\(tag)-c",
                               serverLink: "rb\(tag)s", clientLink: "rb\(tag)c")
        try await lab.build([
            ["netns", "add", lab.serverNamespace], ["netns", "add", lab.clientNamespace],
            ["link", "add", lab.serverLink, "type", "veth", "peer", "name", lab.clientLink],
            ["link", "set", lab.serverLink, "netns", lab.serverNamespace],
            ["link", "set", lab.clientLink, "netns", lab.clientNamespace],
            ["-n", lab.serverNamespace, "addr", "add", "10.77.0.1/24", "dev", lab.serverLink],
            ["-n", lab.serverNamespace, "link", "set", lab.serverLink, "up"],
            ["-n", lab.serverNamespace, "link", "set", "lo", "up"],
            ["-n", lab.clientNamespace, "link", "set", "lo", "up"],
        ])
        return lab
    }

    /// Runs a command in the server or client namespace.
    func run(server: Bool, _ command: [String], timeout: Duration = .seconds(10)) async -> CommandResult {
        await runTool(ip, ["netns", "exec", server ? serverNamespace : clientNamespace] + command, timeout: timeout)
    }

    /// Sets the client's MAC and runs udhcpc once; returns what its script saw on `bound` (empty: no lease).
    /// Each try waits 3 s for an answer: with 1 s, a run on a loaded machine got no lease although dnsmasq logged
    /// its DHCPACK (an answer that came after udhcpc gave up is the likely reason).
    func dhcp(udhcpc: String, mac: String, directory: TemporaryDirectory, tries: Int = 8, extra: [String] = [])
        async throws
        -> [String: String]
    {
        _ = await runTool(ip, ["-n", clientNamespace, "addr", "flush", "dev", clientLink])
        _ = await runTool(ip, ["-n", clientNamespace, "link", "set", clientLink, "down"])
        let set = await runTool(ip, ["-n", clientNamespace, "link", "set", clientLink, "address", mac])
        try #require(set.succeeded, "ip link set address: \(set.output)")
        _ = await runTool(ip, ["-n", clientNamespace, "link", "set", clientLink, "up"])
        let out = directory.path + "/udhcpc-\(UUID().uuidString).env"
        let script = directory.path + "/udhcpc.sh"
        try directory.write("udhcpc.sh", Data("""
            #!/bin/sh
            if [ "$1" = bound ]; then
              printf 'ip=%s\\nsiaddr=%s\\nboot_file=%s\\n' "$ip" "$siaddr" "$boot_file" > "$RS_OUT"
            fi
            exit 0

            """.utf8))
        chmod(script, 0o755)
        _ = await runTool("/usr/bin/env", ["RS_OUT=\(out)", ip, "netns", "exec", clientNamespace, udhcpc,
                                           "-i", clientLink, "-n", "-q", "-f", "-t", String(tries), "-T", "3",
                                           "-s", script] + extra, timeout: .seconds(60))
        var values: [String: String] = [:]
        for line in ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }
}
