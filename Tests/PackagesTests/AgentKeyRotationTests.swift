import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// Site key rotation end to end: two real `provision-agent serve` processes installed with keys from site key K1,
/// the site moved to K2 with `previousKeyFile` K1, and the built `reconcile` binary running a services pass.
struct AgentKeyRotationTests {
    static let addresses = ["rota1": "127.0.0.31", "rotb1": "127.0.0.32"]

    static func writeSite(_ directory: String, port: Int, keyFile: String, previousKeyFile: String) throws -> String {
        let site = "\(directory)/site"
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        let image = """
            apiVersion: rackswarm.io/v1
            kind: Image
            metadata: {name: os}
            spec: {version: "1", file: os.img, sha256: "\(String(repeating: "b", count: 64))", kernel: k, initrd: i}

            """
        let nodes = addresses.sorted(by: { $0.key < $1.key }).enumerated().map { index, entry in
            LabSiteNode(name: entry.key, mac: "52:54:00:7f:01:0\(index)", ip: entry.value, bmcPort: 9901 + 10 * index)
        }
        let text = LabSite.yaml(
            name: "rotation-lab", subnet: "127.0.0.0/8", server: "127.0.0.1",
            agent: "{port: \(port), keyFile: \"\(keyFile)\", previousKeyFile: \"\(previousKeyFile)\"}",
            documents: image, nodes: nodes)
        try text.write(toFile: "\(site)/site.yaml", atomically: true, encoding: .utf8)
        return site
    }

    /// Starts `node`'s agent on its address with the key in its `agent.key`, heartbeats to `heartbeatPort`.
    static func startAgent(_ node: LabNode, port: Int, heartbeatPort: Int) async throws -> LabProcess {
        let portFile = "\(node.directory)/port"
        try? FileManager.default.removeItem(atPath: portFile)
        let agent = try AgentBinaryTests.spawnDaemon("\(productsDirectory)/provision-agent", [
            "serve", "--listen", "\(addresses[node.name] ?? "127.0.0.1"):\(port)", "--node", node.name,
            "--key-file", "\(node.directory)/agent.key", "--state-dir", node.state, "--install-root", node.root,
            "--releasever", "1", "--no-gpg-check", "--rpm-dbpath", "/var/lib/rpm", "--port-file", portFile,
            "--report-to", "127.0.0.1:\(heartbeatPort)", "--heartbeat-interval", "0.5",
        ], log: "\(node.directory)/agent.log")
        for _ in 0..<400 where !FileManager.default.fileExists(atPath: portFile) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(FileManager.default.fileExists(atPath: portFile), "\(node.name)'s agent did not start")
        return agent
    }

    static func client(_ node: String, port: Int, key: SiteKey) -> ServiceAgentClient {
        ServiceAgentClient(address: AgentAddress(host: addresses[node] ?? "127.0.0.1", port: port), key: key,
                           timeout: .seconds(20), logger: Logger(label: "test.rotation"))
    }

    /// The code an inventory request signed with `key` gets from `node`'s agent (`unauthorized` when refused).
    static func code(_ node: String, port: Int, key: SiteKey) async -> String {
        do {
            return try await client(node, port: port, key: key).inventory(of: node).code.rawValue
        } catch {
            return error.code.rawValue
        }
    }

    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    @Test(.timeLimit(.minutes(5)))
    func aPassRotatesTwoRealAgentsFromK1ToK2() async throws {
        let products = productsDirectory
        try #require(FileManager.default.isExecutableFile(atPath: "\(products)/provision-agent"))
        let nodes = [try LabNode("rota1"), try LabNode("rotb1")]
        var agents: [String: LabProcess] = [:]
        var receiverTask: Task<Void, any Error>?
        defer {
            for agent in agents.values { agent.stop() }
            receiverTask?.cancel()
            for node in nodes { node.cleanUp() }
        }
        let k1File = "\(nodes[0].directory)/site-k1.key"
        let k2File = "\(nodes[0].directory)/site-k2.key"
        try (SiteKey.generateHex() + "\n").write(toFile: k1File, atomically: true, encoding: .utf8)
        try (SiteKey.generateHex() + "\n").write(toFile: k2File, atomically: true, encoding: .utf8)
        let k1 = try SiteKey(contentsOfFile: k1File)
        let k2 = try SiteKey(contentsOfFile: k2File)
        // The reconciler's heartbeat listener already knows only K2: the agents' beats count once rotated.
        let receiver = HeartbeatReceiver(key: k2, clock: { Int64(Date().timeIntervalSince1970) })
        let heartbeatPort: Int
        (receiverTask, heartbeatPort) = try await PackageLab.serveHeartbeats(to: receiver)
        let port = try freePort()
        for node in nodes {
            // As the install's post-install step writes it: K1's node key, mode 0600.
            try (k1.agentKeyText(forNode: node.name) + "\n").write(toFile: "\(node.directory)/agent.key",
                                                                 atomically: true, encoding: .utf8)
            agents[node.name] = try await Self.startAgent(node, port: port, heartbeatPort: heartbeatPort)
        }
        let keyFileA = "\(nodes[0].directory)/agent.key"
        let attacker = try #require(SiteKey(bytes: Array(SiteKey.generateHex().utf8)))

        // Forged rekeys before the rotation: signed with B's key, or with A's key from K2 (not A's current key).
        for signer in [k1.agentKey(forNode: "rotb1"), k2.agentKey(forNode: "rota1")] {
            await #expect(throws: ServiceAgentError.self) {
                try await Self.client("rota1", port: port, key: signer).rekey(node: "rota1", to: attacker)
            }
        }
        #expect(Self.read(keyFileA) == k1.agentKeyText(forNode: "rota1") + "\n", "a forged rekey changed A's key")
        #expect(await Self.code("rota1", port: port, key: k1.agentKey(forNode: "rota1")) == "ok")
        #expect(await Self.code("rota1", port: port, key: attacker) == "unauthorized")

        // The site moves to K2, with K1 as the previous key; one services pass rekeys both agents.
        let site = try Self.writeSite(nodes[0].directory, port: port, keyFile: k2File, previousKeyFile: k1File)
        let state = "\(nodes[0].directory)/state.db"
        let pass = try await runProcess("\(products)/reconcile", ["apply", "--scope", "services", "--repo", site,
                                                            "--state", state])
        let logs = nodes.map { Self.read("\($0.directory)/agent.log") }.joined(separator: "\n")
        #expect(pass.status == 0, "\(pass.stdout)\(pass.stderr)\n\(logs)")
        #expect(pass.stdout.contains("~ rota1: rekey") && pass.stdout.contains("~ rotb1: rekey"), "\(pass.stdout)")
        #expect(pass.stdout.contains("rekeyAgent"))
        #expect(pass.stdout.contains("Done: 2 of 2 actions, 0 nodes failed, 0 unreachable."), "\(pass.stdout)")

        // K2's node keys work, K1's are refused, and A's key still opens only A.
        for node in ["rota1", "rotb1"] {
            #expect(await Self.code(node, port: port, key: k2.agentKey(forNode: node)) == "ok", "\(node)")
            #expect(await Self.code(node, port: port, key: k1.agentKey(forNode: node)) == "unauthorized", "\(node)")
        }
        #expect(await Self.code("rotb1", port: port, key: k2.agentKey(forNode: "rota1")) == "unauthorized")
        #expect(Self.read(keyFileA) == k2.agentKeyText(forNode: "rota1") + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: keyFileA)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // The agents' heartbeats now carry K2's node keys: the reconciler's listener takes them.
        for _ in 0..<300 where await receiver.inventories.count < 2 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(await Set(receiver.inventories.keys) == ["rota1", "rotb1"])

        // After the rotation, a rekey signed with A's old key (the one a thief of K1 could compute) is refused.
        await #expect(throws: ServiceAgentError.self) {
            try await Self.client("rota1", port: port, key: k1.agentKey(forNode: "rota1")).rekey(node: "rota1",
                                                                                              to: attacker)
        }
        #expect(Self.read(keyFileA) == k2.agentKeyText(forNode: "rota1") + "\n")

        // The next pass has nothing to do; the dry run agrees.
        let second = try await runProcess("\(products)/reconcile", ["apply", "--scope", "services", "--repo", site,
                                                              "--state", state])
        #expect(second.status == 0 && second.stdout.contains("No changes."), "\(second.stdout)\(second.stderr)")

        // A killed and restarted agent comes back on the key in its file: K2's.
        agents["rota1"]?.signal(SIGKILL)
        _ = await agents["rota1"]?.wait(timeout: 10)
        agents["rota1"] = try await Self.startAgent(nodes[0], port: port, heartbeatPort: heartbeatPort)
        #expect(await Self.code("rota1", port: port, key: k2.agentKey(forNode: "rota1")) == "ok")
        #expect(await Self.code("rota1", port: port, key: k1.agentKey(forNode: "rota1")) == "unauthorized")

        // No key appears in any output or log.
        let outputs = [pass.stdout, pass.stderr, second.stdout, second.stderr,
                       nodes.map { Self.read("\($0.directory)/agent.log") }.joined(separator: "\n")]
        var secrets = [Self.read(k1File).trimmingCharacters(in: .newlines),
                       Self.read(k2File).trimmingCharacters(in: .newlines)]
        for node in ["rota1", "rotb1"] { secrets += [k1.agentKeyText(forNode: node), k2.agentKeyText(forNode: node)] }
        for secret in secrets {
            #expect(!outputs.contains { $0.contains(secret) }, "a key leaked into an output")
        }
        #expect(outputs[4].contains("agent key rotated"), "positive control: the agents' logs were read")
    }
}
