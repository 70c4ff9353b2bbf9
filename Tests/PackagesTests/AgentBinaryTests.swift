import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// The built binaries end to end: `provision-agent serve` on a node whose package manager is called `yum`,
/// driven by `reconcile service … --agent`, sending heartbeats to a receiver.
@Suite(.serialized)
struct AgentBinaryTests {
    @Test func locatesYumWhenThereIsNoDnf() throws {
        let node = try LabNode("yumonly")
        defer { node.cleanUp() }
        try FileManager.default.createDirectory(atPath: "\(node.directory)/bin", withIntermediateDirectories: true)
        #expect(DNFInstaller.locatePackageManager(path: "\(node.directory)/bin") == nil)
        try FileManager.default.createSymbolicLink(atPath: "\(node.directory)/bin/yum", withDestinationPath: "/usr/bin/dnf-3")
        #expect(DNFInstaller.locatePackageManager(path: "\(node.directory)/bin") == "\(node.directory)/bin/yum")
        try FileManager.default.createSymbolicLink(atPath: "\(node.directory)/bin/dnf", withDestinationPath: "/usr/bin/dnf-3")
        #expect(DNFInstaller.locatePackageManager(path: "\(node.directory)/bin") == "\(node.directory)/bin/dnf")
    }

    @Test func reconcileServiceDrivesTheAgentBinaryThroughYum() async throws {
        let repository = try await PackageLab.repository()
        let products = productsDirectory
        let agentBinary = "\(products)/provision-agent"
        let reconcileBinary = "\(products)/reconcile"
        try #require(FileManager.default.isExecutableFile(atPath: agentBinary), "build provision-agent first")
        try #require(FileManager.default.isExecutableFile(atPath: reconcileBinary), "build reconcile first")

        let node = try LabNode("node40")
        var agent: LabProcess?
        var receiverTask: Task<Void, any Error>?
        defer {
            agent?.stop()
            receiverTask?.cancel()
            node.cleanUp()
        }
        let keyFile = "\(node.directory)/site.key"
        try (SiteKey.generateHex() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let key = try SiteKey(contentsOfFile: keyFile)
        // The node's agent holds its own key, derived from the site key (as the install writes it).
        let agentKeyFile = "\(node.directory)/agent.key"
        try (key.agentKeyText(forNode: node.name) + "\n").write(toFile: agentKeyFile, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(node.directory)/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(node.directory)/bin/yum", withDestinationPath: "/usr/bin/dnf-3")
        let definitionFile = "\(node.directory)/web.json"
        try PackageLab.web(repository: repository).jsonText().write(toFile: definitionFile, atomically: true, encoding: .utf8)

        // The reconciler's heartbeat receiver.
        let receiver = HeartbeatReceiver(key: key, clock: { Int64(Date().timeIntervalSince1970) })
        let heartbeatPort: Int
        (receiverTask, heartbeatPort) = try await PackageLab.serveHeartbeats(to: receiver)

        // The agent, as a node would run it, with its metrics endpoint.
        let portFile = "\(node.directory)/port"
        let metricsPort = try freePort()
        agent = try Self.spawnDaemon(agentBinary, [
            "serve", "--listen", "127.0.0.1:0", "--node", node.name, "--key-file", agentKeyFile,
            "--state-dir", node.state, "--install-root", node.root, "--package-manager", "\(node.directory)/bin/yum",
            "--releasever", "1", "--no-gpg-check", "--rpm-dbpath", "/var/lib/rpm", "--settle", "0.5",
            "--port-file", portFile, "--report-to", "127.0.0.1:\(heartbeatPort)", "--heartbeat-interval", "0.5",
            "--metrics-listen", "127.0.0.1:\(metricsPort)",
        ], log: "\(node.directory)/agent.log")
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(20)
        while port == nil, ContinuousClock.now < deadline {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let agentPort = try #require(port, "agent did not start: \((try? String(contentsOfFile: "\(node.directory)/agent.log", encoding: .utf8)) ?? "")")
        let common = ["--agent", "127.0.0.1:\(agentPort)", "--key-file", keyFile]

        let install = await PackageLab.shell(
            reconcileBinary, ["service", node.name, "install", "WEB", "--definition", definitionFile] + common)
        #expect(install.succeeded, "\(install.output)")
        #expect(install.output.contains("node40 install WEB: ok"))
        #expect(install.output.contains("httpd: pid"))
        #expect(await node.installedPackages() == ["httpd-2.2.9-1.noarch"])
        #expect(await node.history().map(\.action) == ["Install"])

        let status = await PackageLab.shell(reconcileBinary, ["service", node.name, "status", "WEB"] + common)
        #expect(status.succeeded, "\(status.output)")

        // Heartbeats carry the inventory to the reconciler.
        var inventory: NodeInventory?
        for _ in 0..<100 {
            inventory = await receiver.inventories[node.name]
            if inventory?.services.first?.isHealthy == true { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(inventory?.services.map(\.service) == ["WEB"])
        #expect(inventory?.packages == ["httpd-2.2.9-1.noarch"])

        // The agent's own /metrics: valid exposition text (promtool), the service recorded and not drifted.
        let metricsURL = "http://127.0.0.1:\(metricsPort)/metrics"
        let checked = await PackageLab.shell("/bin/sh", ["-c", "curl -sSf \(metricsURL) | promtool check metrics"])
        #expect(checked.succeeded, "\(checked.output)")
        var metrics = await PackageLab.shell("/usr/bin/curl", ["-sSf", metricsURL]).output
        #expect(metrics.contains("rackswarm_agent_services 1\n"), "\(metrics)")
        #expect(metrics.contains("rackswarm_agent_service_drifted{service=\"WEB\"} 0\n"))
        #expect(metrics.contains("rackswarm_agent_requests_total{command=\"install\",code=\"ok\"} 1\n"))
        #expect(metrics.contains("rackswarm_agent_build_info{version=\""))
        // httpd dies behind the agent's back: the next scrape shows the drift.
        let killed = node.processes().filter { $0 != agent?.pid }
        for pid in killed { kill(pid, SIGKILL) }
        #expect(await processesExit(killed), "httpd outlived SIGKILL")
        metrics = await PackageLab.shell("/usr/bin/curl", ["-sSf", metricsURL]).output
        #expect(metrics.contains("rackswarm_agent_service_processes_down{service=\"WEB\"} 1\n"), "\(metrics)")
        #expect(metrics.contains("rackswarm_agent_service_drifted{service=\"WEB\"} 1\n"))
        let restarted = await PackageLab.shell(reconcileBinary, ["service", node.name, "restart", "WEB"] + common)
        #expect(restarted.succeeded, "\(restarted.output)")

        // A reconciler with another key is refused; the node is untouched.
        let otherKey = "\(node.directory)/other.key"
        try (SiteKey.generateHex() + "\n").write(toFile: otherKey, atomically: true, encoding: .utf8)
        let refused = await PackageLab.shell(
            reconcileBinary, ["service", node.name, "uninstall", "WEB", "--agent", "127.0.0.1:\(agentPort)",
                              "--key-file", otherKey])
        #expect(!refused.succeeded)
        #expect(refused.output.contains("unauthorized"))
        #expect(await node.installedPackages() == ["httpd-2.2.9-1.noarch"])

        // Uninstall with the definition the agent recorded at install.
        let uninstall = await PackageLab.shell(reconcileBinary, ["service", node.name, "uninstall", "WEB"] + common)
        #expect(uninstall.succeeded, "\(uninstall.output)")
        #expect(await node.installedPackages() == [])
        let agentPID = agent?.pid
        #expect(node.processes().filter { $0 != agentPID }.isEmpty)
    }

    @Test func reconcileServiceResolvesNodeAndServiceFromTheSite() async throws {
        let reconcileBinary = "\(productsDirectory)/reconcile"
        try #require(FileManager.default.isExecutableFile(atPath: reconcileBinary), "build reconcile first")
        let site = PackageLab.fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/datacenter").path
        let siteKey = "package-lab-site-key-0123456789"
        // The node's agent holds r1n1's own key; `reconcile service` derives it from the site key file.
        let served = try await ServedNode.start(
            "r1n1", key: try #require(SiteKey(bytes: Array(siteKey.utf8))).agentKey(forNode: "r1n1"))
        defer { served.stop() }
        let (node, agent) = (served.node, served.agent)
        let keyFile = "\(node.directory)/site.key"
        try (siteKey + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let status = await PackageLab.shell(reconcileBinary, [
            "service", "r1n1", "status", "web", "--site", site, "--agent", "127.0.0.1:\(agent.port)",
            "--key-file", keyFile,
        ])
        // The agent got the site's software list for `web` (the paper's httpd RPM) and found it absent.
        #expect(status.status == 1)
        #expect(status.output.contains("r1n1 status web: not-installed"), "\(status.output)")
        #expect(status.output.contains("apache#1  httpd-2.2.9-4.Gxdl.i386.rpm  not installed  httpd: not running"))
        let unknown = await PackageLab.shell(reconcileBinary, [
            "service", "r9n9", "status", "web", "--site", site, "--key-file", keyFile,
        ])
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("no node r9n9"))
    }

    /// Starts a long-running program with its output in a file (a LabSupport child: killed when released, or by
    /// the runner's watchdog).
    static func spawnDaemon(_ executable: String, _ arguments: [String], log: String) throws -> LabProcess {
        try LabProcess(executable, arguments, outputFile: log)
    }
}
