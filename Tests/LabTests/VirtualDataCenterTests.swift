import Drivers
import Foundation
import LabSupport
import Reconciler
import Testing


/// The virtual data center end to end, with every real part: `vdc.py up` builds a 1-rack × 2-node lab (namespaces
/// on a bridge, ipmi_sim BMCs, dnsmasq), `reconcile boot sync` writes the install entries and DHCP reservations,
/// `reconcile boot serve --reports` serves the boot files, tracker and report route and `reconcile seed` the image,
/// both in the core namespace. `ipmitool` powers the nodes on through their BMCs; each node's firmware DHCPs,
/// TFTP-fetches its chain entry, follows it (n1: iPXE over HTTP, n2: pxelinux over TFTP), fetches kernel and initrd,
/// and runs `provision-agent install`, whose reports reach the route in order. Once the state database says n1 runs
/// its image, `boot sync` turns its entry into a local boot; a BMC reset boots it from "disk" into `provision-agent
/// serve`, and `reconcile service` installs WEB there with dnf from the lab's RPM repository under the HTTP root.
/// `vdc.py down` then leaves no namespace and no process. Needs root and network namespaces: without them it fails,
/// it does not skip.
@Suite(.serialized)
struct VirtualDataCenterTests {
    static let vdc = packageRoot + "/scripts/lab/vdc.py"
    static let binaries = packageRoot + "/.build/debug"
    static let imageSize = 4 << 20

    struct Lab {
        let base: String
        var site: String { base + "/site" }
        var lab: String { base + "/lab" }
        var httpRoot: String { base + "/http" }
        var reports: String { base + "/reports.jsonl" }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(180)) async
        -> CommandResult
    {
        let result = await runCommand(executable, arguments, environment: [:], timeout: Double(timeout.components.seconds),
                                      separateErrors: true)
        return CommandResult(status: result.status, signaled: result.signaled, timedOut: result.timedOut,
                             output: result.output, errorOutput: result.errorOutput)
    }

    /// Runs `command` in the lab's core namespace in the background (`setsid -f`: its own session, not our child);
    /// `vdc.py down` kills it with the namespace.
    static func background(_ lab: Lab, _ command: [String], log: String) async throws {
        let quoted = ([vdc, "exec", lab.lab, "--"] + command).map { "'\($0)'" }.joined(separator: " ")
        let result = await run("/bin/sh", ["-c", "setsid -f /usr/bin/python3 \(quoted) > '\(log)' 2>&1 < /dev/null"])
        try #require(result.succeeded, "\(result.output)")
    }

    /// The lab's site.yaml: PXE on 10.77.0.0/24 served from 10.77.0.1, local boot after install.
    static func siteYAML(_ lab: Lab, name: String, concurrency: Int, timeouts: String, prune: Bool?) -> String {
        """
        apiVersion: rackswarm.io/v1
        kind: Site
        metadata: {name: \(name)}
        spec:
          network: {pxeSubnet: 10.77.0.0/24, serverAddress: 10.77.0.1, httpPort: 8080, dhcp: managed}
          boot: {tftpRoot: \(lab.base)/tftp, httpRoot: \(lab.httpRoot), afterInstall: localBoot}
          rollout: {firstWave: 1, maxUnavailable: 2, concurrency: \(concurrency), failureBudget: 1, canary: false}
          timeouts: {\(timeouts)}
          agent: {port: 7700, keyFile: \(lab.base)/site.key}
        \(prune.map { "  prune: \($0)\n" } ?? "")  interval: 1m

        """
    }

    /// Rack r1 (BMC password from LAB/bmc.password) and its nodes n1…: node i has MAC 52:54:00:PREFIX:00:0i, IP
    /// 10.77.0.1i and an ipmi_sim BMC on 127.0.0.1:BMCBASE+i.
    static func rackYAML(_ lab: Lab, firstWave: Bool, nodes: [(bootLoader: String, services: String)], image: String,
                         macPrefix: String, bmcBase: Int) -> String {
        var rack = """
            apiVersion: rackswarm.io/v1
            kind: Rack
            metadata: {name: r1}
            spec:
            \(firstWave ? "  firstWave: 1\n" : "")  bmc: {username: admin, password: {file: \(lab.base)/bmc.password}}

            """
        for (offset, node) in nodes.enumerated() {
            let index = offset + 1
            rack += """
                ---
                apiVersion: rackswarm.io/v1
                kind: Node
                metadata: {name: n\(index)}
                spec: {rack: r1, mac: "52:54:00:\(macPrefix):00:0\(index)", ip: 10.77.0.1\(index),
                       bmc: {url: "ipmi://127.0.0.1:\(bmcBase + index)"}, bootLoader: \(node.bootLoader),
                       image: \(image), services: [\(node.services)]}

                """
        }
        return rack
    }

    /// Writes the site's files (path relative to LAB/site → text).
    static func writeFiles(_ lab: Lab, _ files: [String: String]) throws {
        for (path, text) in files {
            let url = URL(fileURLWithPath: lab.site + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    static func writeSite(_ lab: Lab, sha256: String) throws {
        try writeFiles(lab, [
            "site.yaml": siteYAML(lab, name: "labtest", concurrency: 2, timeouts: "power: 1m, install: 5m, services: 5m",
                                  prune: false),
            "racks/r1.yaml": rackYAML(lab, firstWave: false, nodes: [("ipxe", ""), ("pxelinux", "")], image: "tiny",
                                      macPrefix: "99", bmcBase: 9200),
            "services/web.yaml": webService,
            "images/tiny.yaml": image(name: "tiny", version: "1", sha256: sha256, pieceSize: "64KiB"),
        ])
    }

    /// The WEB service of the lab's RPM repository (under the reconciler's HTTP root).
    static let webService = """
        apiVersion: rackswarm.io/v1
        kind: Service
        metadata: {name: web}
        spec:
          description: Web front end
          repositories: [{name: lab, baseurl: "http://10.77.0.1:8080/repo/"}]
          software:
            - {name: "apache#1", rpm: httpd-2.2.9-4.Gxdl.i386.rpm, order: 1, script: /etc/init.d/httpd,
               process: httpd}

        """

    /// An image `images/NAME.img` whose post action writes the node's hostname into its root.
    static func image(name: String, version: String, sha256: String, pieceSize: String) -> String {
        """
        apiVersion: rackswarm.io/v1
        kind: Image
        metadata: {name: \(name)}
        spec:
          version: "\(version)"
          file: images/\(name).img
          sha256: "\(sha256)"
          kernel: boot/vmlinuz
          initrd: boot/initrd.img
          kernelArgs: [console=ttyS0]
          pieceSize: \(pieceSize)
          postInstall:
            - name: hostname
              run: mkdir -p "$RACKSWARM_ROOT/etc" && echo "$RACKSWARM_NODE" > "$RACKSWARM_ROOT/etc/hostname"

        """
    }

    /// The install reports of `node` recorded so far.
    static func reports(_ lab: Lab, node: String) -> [InstallReport] {
        struct Line: Decodable {
            var node: String
            var report: InstallReport
        }
        let text = (try? String(contentsOfFile: lab.reports, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
            .filter { $0.node == node }.map(\.report)
    }

    /// A fresh directory for one test's lab, `/tmp/PREFIX-PID-XXXXXXXX`. First it takes down the labs of earlier runs
    /// whose test process is gone (a crashed or killed run never reached its `defer`) and removes their directories.
    static func labDirectory(_ prefix: String) async throws -> String {
        let temporary = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        where name.hasPrefix(prefix + "-") {
            let parts = name.dropFirst(prefix.count + 1).split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]), pid != getpid(), kill(pid, 0) != 0 else { continue }
            let stale = temporary + "/" + name
            await run("/usr/bin/python3", [vdc, "down", stale + "/lab"])
            try? FileManager.default.removeItem(atPath: stale)
        }
        let base = temporary + "/\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        return base
    }

    /// `vdc.py down LAB` from a `defer` (no await there), on a thread of its own.
    static func downSynchronously(_ lab: String) {
        _ = try? runProcessBlocking("/usr/bin/python3", [vdc, "down", lab])
    }

    static func namespaces() async -> [String] {
        await run("/usr/bin/env", ["ip", "netns", "list"]).output.split(separator: "\n")
            .compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    @Test func nodesPowerOnThroughTheirBMCsAndInstallOverPXE() async throws {
        try #require(getuid() == 0, "the virtual data center needs root (network namespaces)")
        for binary in ["reconcile", "provision-agent"] {
            try #require(FileManager.default.isExecutableFile(atPath: "\(Self.binaries)/\(binary)"),
                         "build \(binary) first")
        }
        let base = try await Self.labDirectory("rs-vdc")
        let lab = Lab(base: base)
        defer { try? FileManager.default.removeItem(atPath: base) }
        var tornDown = false
        defer {
            // A failed run still leaves nothing behind: down is idempotent.
            if !tornDown { Self.downSynchronously(lab.lab) }
        }

        // The image, its torrent, kernel and initrd under the HTTP root; the BMC password.
        let reconcile = Self.binaries + "/reconcile"
        try FileManager.default.createDirectory(atPath: lab.site + "/images", withIntermediateDirectories: true)
        let image = lab.site + "/images/tiny.img"
        var generator = SystemRandomNumberGenerator()
        let imageBytes = Data((0..<Self.imageSize).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try imageBytes.write(to: URL(fileURLWithPath: image))
        let sha = await Self.run("/usr/bin/sha256sum", [image]).output.prefix(64)
        try Self.writeSite(lab, sha256: String(sha))
        try FileManager.default.createDirectory(atPath: lab.httpRoot + "/boot", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: lab.httpRoot + "/torrents", withIntermediateDirectories: true)
        // n1 boots iPXE (kernel and initrd over HTTP), n2 pxelinux (over TFTP): both roots hold them.
        for root in [lab.httpRoot, lab.base + "/tftp"] {
            try FileManager.default.createDirectory(atPath: root + "/boot", withIntermediateDirectories: true)
            try Data("kernel".utf8).write(to: URL(fileURLWithPath: root + "/boot/vmlinuz"))
            try Data("initrd".utf8).write(to: URL(fileURLWithPath: root + "/boot/initrd.img"))
        }
        try "lab-bmc-secret\n".write(toFile: base + "/bmc.password", atomically: true, encoding: .utf8)
        // The site key the site names: install entries carry tokens minted with it, and each node's own agent
        // key, derived from it, comes with the install's instructions.
        try "vdc-test-site-key-\(UUID().uuidString)\n".write(toFile: base + "/site.key", atomically: true,
                                                             encoding: .utf8)
        let torrent = lab.httpRoot + "/torrents/tiny@1.torrent"
        let published = await Self.run(reconcile, ["image", "publish", image, "--out-file", torrent,
                                                   "--tracker", "http://10.77.0.1:8080/announce",
                                                   "--piece-size", "64KiB"])
        try #require(published.succeeded, "\(published.output)")

        // Up.
        let up = await Self.run("/usr/bin/python3", [Self.vdc, "up", "--site", lab.site, "--lab", lab.lab])
        try #require(up.succeeded, "vdc.py up: \(up.output)")
        let labState = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: lab.lab + "/lab.json"))) as? [String: Any]
        let prefix = try #require(labState?["prefix"] as? String)
        #expect(await Self.namespaces().filter { $0.hasPrefix(prefix) }.count == 3)

        // Entries and reservations, then the HTTP endpoint (with the report route) and the seed.
        let sync = await Self.run("/usr/bin/python3", [Self.vdc, "exec", lab.lab, "--", reconcile, "boot", "sync",
            "--repo", lab.site, "--state", base + "/state.db", "--dnsmasq-pid-file", lab.lab + "/dnsmasq.pid"])
        try #require(sync.succeeded, "boot sync: \(sync.output)")
        #expect(sync.output.contains("wrote: n1") && sync.output.contains("wrote: n2"), "\(sync.output)")
        try await Self.background(lab, [reconcile, "boot", "serve", "--repo", lab.site, "--reports", lab.reports],
                                  log: base + "/serve.log")
        // The firmware chains to the boot server at once and gives up when nothing listens: power on only once it
        // says it serves (a loaded run powered on first, and both nodes halted).
        let serving = await eventually(60) {
            ((try? String(contentsOfFile: base + "/serve.log", encoding: .utf8)) ?? "").contains("serving ")
        }
        try #require(serving, "boot serve: \((try? String(contentsOfFile: base + "/serve.log", encoding: .utf8)) ?? "")")
        try await Self.background(lab, [reconcile, "seed", torrent, "--data", image, "--listen", "10.77.0.1:6881"],
                                  log: base + "/seed.log")

        // Power on through the BMCs (RMCP+ from the core namespace, where the BMCs listen).
        for port in ["9201", "9202"] {
            let on = await Self.run("/usr/bin/python3", [Self.vdc, "exec", lab.lab, "--", "ipmitool", "-I", "lanplus",
                "-H", "127.0.0.1", "-p", port, "-U", "admin", "-P", "lab-bmc-secret", "-C", "3", "chassis", "power",
                "on"], timeout: .seconds(60))
            try #require(on.succeeded, "ipmitool power on (\(port)): \(on.output)")
        }

        // Both nodes install: phases in order, ending with rebooting.
        let deadline = ContinuousClock.now + .seconds(240)
        while ContinuousClock.now < deadline {
            let done = ["n1", "n2"].allSatisfy { Self.reports(lab, node: $0).contains { $0.phase == .rebooting } }
            if done { break }
            if ["n1", "n2"].contains(where: { Self.reports(lab, node: $0).contains { $0.phase == .failed } }) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        for node in ["n1", "n2"] {
            let console = (try? String(contentsOfFile: "\(lab.lab)/nodes/\(node)/console.log", encoding: .utf8)) ?? ""
            var steps: [InstallReport.Phase] = []
            for report in Self.reports(lab, node: node) where steps.last != report.phase { steps.append(report.phase) }
            #expect(Array(steps.prefix(5)) == [.booted, .downloading, .written, .postInstalled, .rebooting],
                    "\(node): \(steps)\n\(console)")
            let loader = node == "n1"
                ? ["phase=chain target=http://10.77.0.1:8080/ipxe/01-52-54-00-99-00-01",
                   "phase=install-kernel kernel=http://10.77.0.1:8080/boot/vmlinuz"]
                : ["phase=chain target=/pxelinux.0", "phase=install-kernel kernel=tftp:boot/vmlinuz"]
            for marker in ["phase=dhcp-bound ip=10.77.0.1\(node.dropFirst())"] + loader
                + ["phase=installing", "phase=rebooting"] {
                #expect(console.contains(marker), "\(node): no '\(marker)' in its console:\n\(console)")
            }
            let disk = try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(lab.lab)/nodes/\(node)/disk"))
            let written = try disk.read(upToCount: Self.imageSize) ?? Data()
            try disk.close()
            #expect(written == imageBytes, "\(node)'s disk holds the image")
            let hostname = try? String(contentsOfFile: "\(lab.lab)/nodes/\(node)/root/etc/hostname", encoding: .utf8)
            #expect(hostname == "\(node)\n")
        }
        let status = await Self.run("/usr/bin/python3", [Self.vdc, "status", lab.lab])
        #expect(status.succeeded && status.output.contains("n1") && status.output.contains(" on "), "\(status.output)")

        // n1 is installed: its entry becomes a local boot, a reset boots it into the agent, WEB installs there.
        let store = try SQLiteStateStore(path: base + "/state.db")
        try await store.record(NodeStatus(phase: .ready, image: "tiny@1", rack: "r1"), lastError: nil, for: "n1",
                               at: Date())
        let flip = await Self.run("/usr/bin/python3", [Self.vdc, "exec", lab.lab, "--", reconcile, "boot", "sync",
            "--repo", lab.site, "--state", base + "/state.db", "--dnsmasq-pid-file", lab.lab + "/dnsmasq.pid"])
        #expect(flip.output.contains("wrote: n1: localBoot"), "\(flip.output)")
        let console = "\(lab.lab)/nodes/n1/console.log"
        // Only what the console shows after the reset counts: an earlier boot may have started the agent already.
        let beforeReset = ((try? String(contentsOfFile: console, encoding: .utf8)) ?? "").utf8.count
        let reset = await Self.run("/usr/bin/python3", [Self.vdc, "exec", lab.lab, "--", "ipmitool", "-I", "lanplus",
            "-H", "127.0.0.1", "-p", "9201", "-U", "admin", "-P", "lab-bmc-secret", "-C", "3", "chassis", "power",
            "reset"], timeout: .seconds(60))
        #expect(reset.succeeded, "\(reset.output)")
        let agentUp = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < agentUp {
            let whole = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
            let text = String(decoding: whole.utf8.dropFirst(beforeReset), as: UTF8.self)
            if let local = text.range(of: "phase=local-boot"), text[local.upperBound...].contains("agent listening") {
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let web = await Self.run("/usr/bin/python3", [Self.vdc, "exec", lab.lab, "--", reconcile, "service", "n1",
            "install", "web", "--site", lab.site, "--key-file", lab.base + "/site.key"], timeout: .seconds(120))
        #expect(web.succeeded && web.output.contains("httpd-2.2.9-4.Gxdl.i386"),
                "\(web.output)\n\((try? String(contentsOfFile: console, encoding: .utf8)) ?? "")")
        #expect(FileManager.default.fileExists(atPath: "\(lab.lab)/nodes/n1/root/usr/sbin/httpd"))

        // Down: no namespace of the lab, no BMC, no dnsmasq, no firmware left.
        let pids = (labState?["pids"] as? [Int]) ?? []
        let down = await Self.run("/usr/bin/python3", [Self.vdc, "down", lab.lab])
        tornDown = true
        #expect(down.succeeded, "\(down.output)")
        #expect(await Self.namespaces().filter { $0.hasPrefix(prefix) }.isEmpty)
        for pid in pids { #expect(!processIsAlive(pid_t(pid)), "process \(pid) outlived the lab") }
        let again = await Self.run("/usr/bin/python3", [Self.vdc, "down", lab.lab])
        #expect(again.succeeded, "down is idempotent: \(again.output)")
    }
}
