import Drivers
import Foundation
import LabSupport
import Reconciler
import Synchronization

/// A small data center on the loopback network, built from real parts: one rack of nodes, each behind its own
/// `ipmi_sim` BMC whose power hook starts the node's firmware (scripts/lab/loopback-firmware.sh), which runs
/// the real install environment (`provision-agent install`) and, once installed, the agent. The reconciler under
/// test is the built `reconcile apply`, reading a git repo the lab commits to.
///
/// Nodes get addresses 127.X.0.11… (X held by one lab at a time, `octets`) so that labs of tests running side by
/// side never meet.
final class LoopbackLab: @unchecked Sendable {
    struct LabNode {
        var name: String
        var mac: String
        var ip: String
        var bmcPort: Int
        var directory: String
        var rack = "r1"
    }

    static let password = "lab-bmc-secret"

    let root: String
    private(set) var nodes: [LabNode]
    let httpPort: Int
    let agentPort: Int
    let seedPort: Int
    let heartbeatPort: Int
    let binaries: String
    var imageVersion = "1.0"
    var installTimeout: String
    /// Services per node name (the lab builds their RPMs into the reconciler's HTTP root at /repo/).
    var services: [String: [String]] = [:]
    /// With it, each node's install holds in its post actions until `release(_:)`: a real install under way.
    let holdInstalls: Bool
    /// The lab's second octet: its nodes are 127.X.0.11…, and addresses 127.X.9.N are free for reconcilers.
    let octet: Int
    /// The racks r1…rN; each holds `nodes` nodes.
    let racks: [String]
    private var bmcPIDs: [Int32] = []

    var repo: String { root + "/repo" }
    var siteDirectory: String { repo + "/site" }
    var statePath: String { root + "/state.db" }
    var httpRoot: String { root + "/http" }
    /// The console's own listener (`--console-listen`).
    let consolePort: Int
    /// With it, the console listener speaks HTTPS with this certificate and key (PEM files).
    var consoleTLS: (certificate: String, key: String)?
    /// Where the console, its JSON API and `/metrics` answer.
    var consoleBase: String { "\(consoleTLS == nil ? "http" : "https")://127.0.0.1:\(consolePort)" }

    init(nodes count: Int = 3, racks rackCount: Int = 1, installTimeout: String = "90s",
         wrongPassword: Set<String> = [], services: [String: [String]] = [:], holdInstalls: Bool = false)
        async throws
    {
        self.services = services
        self.holdInstalls = holdInstalls
        // RACKSWARM_LAB_BINARIES runs the lab against other builds (an older one, to show what changed).
        let override = ProcessInfo.processInfo.environment["RACKSWARM_LAB_BINARIES"]
        guard let binaries = override ?? builtBinaries else {
            throw LabError("build reconcile and provision-agent first")
        }
        self.binaries = binaries
        self.installTimeout = installTimeout
        root = NSTemporaryDirectory() + "rs-loopback-\(getpid())-\(UUID().uuidString.prefix(8))"
        httpPort = try freePort()
        agentPort = try freePort()
        seedPort = try freePort()
        heartbeatPort = try freePort()
        consolePort = try freePort()
        let octet = try Self.octets.take()
        self.octet = octet
        racks = (1...rackCount).map { "r\($0)" }
        let labRoot = root
        nodes = try (0..<(count * rackCount)).map { position in
            let (rack, index, address) = ("r\(position / count + 1)", position % count + 1, position + 11)
            return LabNode(name: "\(rack)n\(index)",
                           mac: String(format: "52:54:00:%02x:00:%02x", octet, address - 10),
                           ip: "127.\(octet).0.\(address)", bmcPort: try freePort(udp: true),
                           directory: labRoot + "/nodes/\(rack)n\(index)", rack: rack)
        }
        for directory in [repo, siteDirectory + "/racks", siteDirectory + "/images", httpRoot + "/boot"]
            + nodes.map(\.directory)
        {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        // The install kernel and initrd the entries name: the firmware fetches them, the lab boots none.
        try Data("lab kernel\n".utf8).write(to: URL(fileURLWithPath: httpRoot + "/boot/vmlinuz"))
        try Data("lab initrd\n".utf8).write(to: URL(fileURLWithPath: httpRoot + "/boot/initrd.img"))
        var key = [UInt8](repeating: 0, count: 32)
        for index in key.indices { key[index] = UInt8.random(in: 0...255) }
        try Data(key).write(to: URL(fileURLWithPath: root + "/site.key"))
        var image = [UInt8](repeating: 0, count: 12 << 20)
        var generator = SystemRandomNumberGenerator()
        for index in stride(from: 0, to: image.count, by: 8) {
            withUnsafeBytes(of: generator.next()) { bytes in
                for offset in 0..<8 { image[index + offset] = bytes[offset] }
            }
        }
        try Data(image).write(to: URL(fileURLWithPath: siteDirectory + "/images/os.img"))
        if !services.isEmpty {
            let built = await runCommand("/bin/bash", [packageRoot + "/scripts/lab/make-service-repo.sh", root + "/rpms"],
                                             timeout: 300)
            guard built.status == 0 else { throw LabError("make-service-repo.sh: \(built.output)") }
            try FileManager.default.copyItem(atPath: root + "/rpms/repo", toPath: httpRoot + "/repo")
            try FileManager.default.createDirectory(atPath: siteDirectory + "/services", withIntermediateDirectories: true)
        }
        // The BMCs first: a port taken since `freePort` picked it gets another one, and the site names the last.
        do {
            try setDHCPServers(["127.0.0.1:\(httpPort)"])
            for index in nodes.indices {
                try await startBMC(index, password: wrongPassword.contains(nodes[index].name)
                                   ? "not-the-password" : Self.password)
            }
            try writeSite()
            _ = try await git(["init", "-q", "-b", "main"])
            try await commit("lab: one rack")
        } catch {
            tearDown()
            throw error
        }
    }

    /// Starts node `index`'s `ipmi_sim` and waits until it serves its port. A simulator that exits (its port was
    /// taken by another socket since `freePort` chose it) is started again on a new port, twice at most.
    private func startBMC(_ index: Int, password: String) async throws {
        for attempt in 1...3 {
            let node = nodes[index]
            let firmware = [
                packageRoot + "/scripts/lab/loopback-firmware.sh", node.name, node.mac, node.ip,
                dhcpServers, node.directory, binaries + "/provision-agent", root + "/site.key",
                "\(agentPort)", "127.0.0.1:\(heartbeatPort)",
            ].map { "'\($0)'" }.joined(separator: " ")
            let started = await runCommand(
                "/bin/bash", [packageRoot + "/scripts/lab/ipmi-bmc.sh", node.directory + "/bmc", "\(node.bmcPort)",
                              password, firmware])
            guard started.status == 0, let pid = Int32(started.output.trimmingCharacters(in: .whitespacesAndNewlines))
            else { throw LabError("ipmi-bmc.sh failed: \(started.output)") }
            bmcPIDs.append(pid)
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, processIsAlive(pid) {
                // Bound and still running a moment later: the port is the simulator's, not a socket that took it.
                if udpPortIsBound(node.bmcPort) {
                    try await Task.sleep(for: .milliseconds(200))
                    if processIsAlive(pid) { return }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let log = (try? String(contentsOfFile: node.directory + "/bmc/sim.log", encoding: .utf8)) ?? ""
            guard !processIsAlive(pid), attempt < 3 else {
                throw LabError("the BMC of \(node.name) did not serve port \(node.bmcPort): \(log)")
            }
            nodes[index].bmcPort = try freePort(udp: true)
        }
    }

    /// Writes the site's YAML (the image version is the knob tests turn).
    func writeSite() throws {
        let sha256 = try FileDigest.sha256(path: siteDirectory + "/images/os.img")
        let site = """
            apiVersion: rackswarm.io/v1
            kind: Site
            metadata:
              name: loopback
            spec:
              network:
                pxeSubnet: 127.0.0.0/8
                serverAddress: 127.0.0.1
                httpPort: \(httpPort)
                dhcp: external
              boot:
                tftpRoot: \(root)/tftp
                httpRoot: \(httpRoot)
                afterInstall: localBoot
              rollout:
                firstWave: 1
                maxUnavailable: 2
                concurrency: 8
                failureBudget: 2
              timeouts:
                power: 30s
                install: \(installTimeout)
                services: 1m
                # ipmi_sim answers in milliseconds; a 1 s request timeout on a loaded 2-core machine resends
                # "power on", which the BMC runs again: the kill -9 test counts power-ons.
                bmcRequest: 5s
              agent:
                port: \(agentPort)
                keyFile: \(root)/site.key
              interval: 5m

            """
        let image = """
            apiVersion: rackswarm.io/v1
            kind: Image
            metadata:
              name: os
            spec:
              version: "\(imageVersion)"
              file: images/os.img
              sha256: "\(sha256)"
              kernel: boot/vmlinuz
              initrd: boot/initrd.img
              kernelArgs: [console=ttyS0]
              pieceSize: 256KiB
              postInstall:
                - name: hostname
                  run: mkdir -p "$RACKSWARM_ROOT/etc" && echo "$RACKSWARM_NODE" > "$RACKSWARM_ROOT/etc/hostname"

            """ + (holdInstalls ? """
                - name: hold
                  run: |
                    n=0
                    until [ -e "\(root)/release/$RACKSWARM_NODE" ] || [ $n -gt 1200 ]; do sleep 0.1; n=$((n+1)); done

            """ : "")
        var rackFiles: [String: String] = [:]
        for rack in racks {
            rackFiles[rack] = """
                apiVersion: rackswarm.io/v1
                kind: Rack
                metadata:
                  name: \(rack)
                spec:
                  firstWave: 1
                  bmc:
                    username: admin
                    password: {env: RACKSWARM_LAB_BMC_PASSWORD}

                """
        }
        for node in nodes {
            rackFiles[node.rack, default: ""] += SiteYAML.node(
                node.name, rack: node.rack, mac: node.mac, ip: node.ip, bmc: "ipmi://127.0.0.1:\(node.bmcPort)",
                bootLoader: "ipxe", services: services[node.name] ?? [])
        }
        if services.values.contains(where: { $0.contains("web") }) {
            let web = """
                apiVersion: rackswarm.io/v1
                kind: Service
                metadata:
                  name: web
                spec:
                  description: Web front end
                  repositories:
                    - name: lab
                      baseurl: http://127.0.0.1:\(httpPort)/repo/
                  software:
                    - name: "apache#1"
                      rpm: httpd-2.2.9-4.Gxdl.i386.rpm
                      order: 1
                      script: /etc/init.d/httpd
                      process: httpd

                """
            try web.write(toFile: siteDirectory + "/services/web.yaml", atomically: true, encoding: .utf8)
        }
        try site.write(toFile: siteDirectory + "/site.yaml", atomically: true, encoding: .utf8)
        try image.write(toFile: siteDirectory + "/images/os.yaml", atomically: true, encoding: .utf8)
        for (rack, text) in rackFiles {
            try text.write(toFile: siteDirectory + "/racks/\(rack).yaml", atomically: true, encoding: .utf8)
        }
    }

    func git(_ arguments: [String]) async throws -> String {
        let result = await runCommand("/usr/bin/git", ["-C", repo] + arguments, environment: [
            "GIT_AUTHOR_NAME": "lab", "GIT_AUTHOR_EMAIL": "lab@rackswarm.invalid", "GIT_COMMITTER_NAME": "lab",
            "GIT_COMMITTER_EMAIL": "lab@rackswarm.invalid", "GIT_CONFIG_GLOBAL": "/dev/null",
        ])
        guard result.status == 0 else { throw LabError("git \(arguments.joined(separator: " ")): \(result.output)") }
        return result.output
    }

    func commit(_ message: String) async throws {
        _ = try await git(["add", "-A"])
        _ = try await git(["commit", "-q", "-m", message])
    }

    var applyArguments: [String] {
        ["apply", "--repo", "file://" + repo, "--path", "site", "--cache", root + "/cache", "--state", statePath,
         "--listen", "127.0.0.1", "--seed-port", "\(seedPort)", "--backoff", "1s", "--attempts", "3",
         "--heartbeat-listen", "127.0.0.1:\(heartbeatPort)", "--yes",
         "--console-listen", "127.0.0.1:\(consolePort)"]
            + (consoleTLS.map { ["--console-tls-cert", $0.certificate, "--console-tls-key", $0.key] } ?? [])
    }

    /// Starts `reconcile apply` with extra arguments; its output goes to `log`.
    func startApply(_ extra: [String] = [], log: String) throws -> LabProcess {
        try LabProcess(binaries + "/reconcile", applyArguments + extra,
                       environment: ["RACKSWARM_LAB_BMC_PASSWORD": Self.password], outputFile: root + "/" + log)
    }

    /// Runs one `reconcile apply` pass to its end.
    func apply(log: String, timeout: Double = 300) async throws -> (status: Int32, output: String) {
        let process = try startApply(log: log)
        let status = await process.wait(timeout: timeout)
        return (status, process.output)
    }

    /// The segment's DHCP servers as the nodes' firmware sees them (one `HOST:PORT` a line, read at every boot):
    /// each stands for a reconciler's own DHCP server, whose offer sends the node to that reconciler's boot server.
    /// The firmware takes the first that answers, in this order.
    var dhcpServers: String { root + "/dhcp-servers" }

    /// Puts these DHCP servers on the segment (the default: the one reconciler at the site's serverAddress).
    func setDHCPServers(_ servers: [String]) throws {
        let temporary = dhcpServers + ".new"
        try servers.map { $0 + "\n" }.joined().write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, dhcpServers) == 0 else { throw LabError("cannot write \(dhcpServers)") }
    }

    /// Lets `node`'s held install go on (see `holdInstalls`).
    func release(_ node: LabNode) throws {
        try FileManager.default.createDirectory(atPath: root + "/release", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/release/" + node.name, contents: Data())
    }

    func disk(_ node: LabNode) -> Data? { FileManager.default.contents(atPath: node.directory + "/disk") }
    var image: Data? { FileManager.default.contents(atPath: siteDirectory + "/images/os.img") }
    func bmcLog(_ node: LabNode) -> String {
        (try? String(contentsOfFile: node.directory + "/bmc/log", encoding: .utf8)) ?? ""
    }
    func console(_ node: LabNode) -> String {
        (try? String(contentsOfFile: node.directory + "/console.log", encoding: .utf8)) ?? ""
    }

    /// The whole story of a failure: apply logs and every node's console.
    /// Each node's console and BMC log; the last `tail` lines of each when given (CI shows a failure's first lines).
    func diagnostics(tail: Int? = nil) -> String {
        func cut(_ text: String) -> String {
            guard let tail else { return text }
            return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(tail).joined(separator: "\n")
        }
        return nodes.map { "== \($0.name) console\n\(cut(console($0)))== \($0.name) bmc\n\(cut(bmcLog($0)))" }
            .joined()
    }

    /// Second octets of the labs alive in this process: each lab's nodes (127.X.0.11…, port 6881 for every install)
    /// and extra reconcilers (127.X.9.N) need an X no other running lab uses: with a random pick, two of the labs
    /// the lab group runs at once drew the same X about once in 250 pairs, and their installs then shared addresses.
    static let octets = OctetPool()

    /// Kills every BMC and every node's firmware session, and removes the lab's files.
    func tearDown() {
        for pid in bmcPIDs { kill(pid, SIGKILL) }
        for node in nodes {
            if let text = try? String(contentsOfFile: node.directory + "/bmc/firmware.pid", encoding: .utf8),
                let group = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(-group, SIGKILL)
            }
        }
        try? FileManager.default.removeItem(atPath: root)
        Self.octets.give(octet)
    }
}

/// Hands out second octets 2…250 that no live lab in this process holds, starting from a random one.
final class OctetPool: Sendable {
    private let held = Mutex<Set<Int>>([])

    func take() throws -> Int {
        let start = Int.random(in: 2...250)
        return try held.withLock { held in
            for offset in 0..<249 {
                let octet = 2 + (start - 2 + offset) % 249
                if held.insert(octet).inserted { return octet }
            }
            throw LabError("every loopback lab octet is taken")
        }
    }

    func give(_ octet: Int) {
        _ = held.withLock { $0.remove(octet) }
    }
}
