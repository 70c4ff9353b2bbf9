import Drivers
import Foundation
import LabSupport
import Testing

/// `reconcile --scope services` as an operator runs it: the built binary, a site repo, and a real
/// `provision-agent serve` on the node's address (a loopback IP inside the site's PXE subnet) installing with dnf.
@Suite(.serialized)
struct ReconcileServicesScopeTests {
    /// Writes a one-node site whose node is `node` at 127.0.0.11 with `services`; returns its directory.
    static func writeSite(node: LabNode, repository: String, port: Int, keyFile: String, services: [String]) throws
        -> String
    {
        let site = "\(node.directory)/site"
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let only = LabSiteNode(name: node.name, mac: "52:54:00:7f:00:0b", ip: "127.0.0.11", bmcPort: 9911,
                               services: services)
        try LabSite.yaml(name: "loopback-lab", subnet: "127.0.0.0/8", server: "127.0.0.1",
                         agent: "{port: \(port), keyFile: \"\(keyFile)\"}",
                         documents: PackageLab.imageAndVODDocuments(repository: repository), nodes: [only])
            .write(toFile: "\(site)/site.yaml", atomically: true, encoding: .utf8)
        return site
    }

    /// Starts the node's agent with its own key, derived from the site key in `keyFile` (as an install writes it).
    static func startAgent(_ node: LabNode, port: Int, keyFile: String) throws -> LabProcess {
        let agentKeyFile = "\(node.directory)/agent.key"
        try (SiteKey(contentsOfFile: keyFile).agentKeyText(forNode: node.name) + "\n")
            .write(toFile: agentKeyFile, atomically: true, encoding: .utf8)
        return try AgentBinaryTests.spawnDaemon("\(productsDirectory)/provision-agent", [
            "serve", "--listen", "127.0.0.11:\(port)", "--node", node.name, "--key-file", agentKeyFile,
            "--state-dir", node.state, "--install-root", node.root, "--releasever", "1", "--no-gpg-check",
            "--rpm-dbpath", "/var/lib/rpm", "--settle", "0.5",
        ], log: "\(node.directory)/agent.log")
    }

    @Test func convergesServicesThroughTheAgentBinary() async throws {
        let repository = try await PackageLab.repository()
        let products = productsDirectory
        let node = try LabNode("scope1")
        var agent: LabProcess?
        defer {
            agent?.stop()
            node.cleanUp()
        }
        let keyFile = "\(node.directory)/site.key"
        try (SiteKey.generateHex() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let port = 20000 + Int(getpid() % 20000)
        let site = try Self.writeSite(node: node, repository: repository, port: port, keyFile: keyFile,
                                      services: ["vod"])

        agent = try Self.startAgent(node, port: port, keyFile: keyFile)
        let state = "\(node.directory)/state.db"
        let arguments = ["apply", "--scope", "services", "--repo", site, "--state", state]
        var first = try await Self.reconcile(products, arguments)
        // The agent may still be binding its port: retry briefly while it is unreachable.
        for _ in 0..<40 where first.stdout.contains("unreachable:") {
            try await Task.sleep(for: .milliseconds(250))
            first = try await Self.reconcile(products, arguments)
        }
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)\n\((try? String(contentsOfFile: "\(node.directory)/agent.log", encoding: .utf8)) ?? "")")
        #expect(first.stdout.contains("~ \(node.name): services"))
        #expect(first.stdout.contains("Done: 2 of 2 actions, 0 nodes failed, 0 unreachable."))
        #expect(await node.installedPackages()?.filter { $0.hasPrefix("std_") }.count == 2)

        let second = try await Self.reconcile(products, arguments)
        #expect(second.status == 0)
        #expect(second.stdout.contains("No changes."))

        // A dry run reads what the services pass recorded: nothing to do for services.
        let dry = try await Self.reconcile(products, ["plan", "--scope", "services", "--repo", site, "--state", state])
        #expect(dry.status == 0 && dry.stdout.contains("No changes."))
    }

    /// `reconcile --scope services --every 1s`: converges, picks up a new revision of the site at a later pass,
    /// and exits 0 on SIGTERM.
    @Test func loopPicksUpChangesAndStopsCleanlyOnSIGTERM() async throws {
        let repository = try await PackageLab.repository()
        let products = productsDirectory
        let node = try LabNode("scope2")
        var agent: LabProcess?
        var running: LabProcess?
        defer {
            agent?.stop()
            running?.stop()
            node.cleanUp()
        }
        let keyFile = "\(node.directory)/site.key"
        try (SiteKey.generateHex() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let port = 20000 + Int((getpid() + 7919) % 20000)
        let site = try Self.writeSite(node: node, repository: repository, port: port, keyFile: keyFile,
                                      services: ["vod"])
        agent = try Self.startAgent(node, port: port, keyFile: keyFile)
        let log = "\(node.directory)/loop.log"
        let loop = try LabProcess("\(products)/reconcile", ["apply", "--scope", "services", "--every", "1s", "--repo", site,
                                                          "--state", "\(node.directory)/state.db"], outputFile: log)
        running = loop

        func waitFor(_ what: String, _ condition: () async -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if await condition() { return }
                try await Task.sleep(for: .milliseconds(250))
            }
            Issue.record("timed out waiting for \(what): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        try await waitFor("vod installed") {
            await node.installedPackages()?.filter { $0.hasPrefix("std_") }.count == 2
        }
        // A new revision of the site drops vod: a later pass uninstalls it, with no restart.
        _ = try Self.writeSite(node: node, repository: repository, port: port, keyFile: keyFile, services: [])
        try await waitFor("vod removed") {
            await node.installedPackages()?.contains { $0.hasPrefix("std_") } == false
        }
        loop.signal(SIGTERM)
        let status = await loop.wait(timeout: 30)
        #expect(!loop.timedOut, "the loop must stop on SIGTERM")
        #expect(status == 0 && !loop.signaled, "\(loop.output)")
    }

    static func reconcile(_ products: String, _ arguments: [String]) async throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        try await runProcess("\(products)/reconcile", arguments)
    }
}
