import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// Per-node agent keys with two real `provision-agent serve` processes: each holds only its own key (HKDF of the
/// site key and its name). A request signed with node A's key is answered by A and refused by B; the site key
/// itself opens neither; and a heartbeat A signs in B's name is refused by the reconciler's receiver.
struct AgentKeyIsolationTests {
    @Test(.timeLimit(.minutes(3)))
    func nodeAsKeyIsRefusedByNodeB() async throws {
        let agentBinary = "\(productsDirectory)/provision-agent"
        try #require(FileManager.default.isExecutableFile(atPath: agentBinary), "build provision-agent first")
        let nodes = [try LabNode("keya1"), try LabNode("keyb1")]
        var agents: [LabProcess] = []
        var receiverTask: Task<Void, any Error>?
        defer {
            for agent in agents { agent.stop() }
            receiverTask?.cancel()
            for node in nodes { node.cleanUp() }
        }
        let siteKeyFile = nodes[0].directory + "/site.key"
        try (SiteKey.generateHex() + "\n").write(toFile: siteKeyFile, atomically: true, encoding: .utf8)
        let siteKey = try SiteKey(contentsOfFile: siteKeyFile)

        let receiver = HeartbeatReceiver(key: siteKey, clock: { Int64(Date().timeIntervalSince1970) })
        let heartbeatPort: Int
        (receiverTask, heartbeatPort) = try await PackageLab.serveHeartbeats(to: receiver)

        var agentPorts: [Int] = []
        for node in nodes {
            let keyFile = node.directory + "/agent.key"
            try (siteKey.agentKeyText(forNode: node.name) + "\n").write(toFile: keyFile, atomically: true,
                                                                       encoding: .utf8)
            let portFile = node.directory + "/port"
            agents.append(try AgentBinaryTests.spawnDaemon(agentBinary, [
                "serve", "--listen", "127.0.0.1:0", "--node", node.name, "--key-file", keyFile,
                "--state-dir", node.state, "--install-root", node.root, "--releasever", "1", "--no-gpg-check",
                "--rpm-dbpath", "/var/lib/rpm", "--port-file", portFile,
                "--report-to", "127.0.0.1:\(heartbeatPort)", "--heartbeat-interval", "0.5",
            ], log: node.directory + "/agent.log"))
            var port: Int?
            for _ in 0..<400 where port == nil {
                port = (try? String(contentsOfFile: portFile, encoding: .utf8))
                    .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                if port == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            agentPorts.append(try #require(port, "\(node.name)'s agent did not start"))
        }
        func client(_ key: SiteKey, port: Int) -> ServiceAgentClient {
            ServiceAgentClient(address: AgentAddress(host: "127.0.0.1", port: port), key: key,
                               timeout: .seconds(10), logger: Logger(label: "test.client"))
        }
        func code(_ key: SiteKey, port: Int, node: String) async -> String {
            do {
                return try await client(key, port: port).request(.status, node: node, service: "web",
                                                                 definition: nil).code.rawValue
            } catch {
                return error.code.rawValue
            }
        }
        let keyA = siteKey.agentKey(forNode: "keya1")
        // A's key: A answers; B refuses it, whichever node the request names.
        #expect(await code(keyA, port: agentPorts[0], node: "keya1") != "unauthorized")
        #expect(await code(keyA, port: agentPorts[1], node: "keyb1") == "unauthorized")
        #expect(await code(keyA, port: agentPorts[1], node: "keya1") == "unauthorized")
        // B's own key works on B; the site key works on neither.
        #expect(await code(siteKey.agentKey(forNode: "keyb1"), port: agentPorts[1], node: "keyb1") != "unauthorized")
        #expect(await code(siteKey, port: agentPorts[0], node: "keya1") == "unauthorized")
        #expect(await code(siteKey, port: agentPorts[1], node: "keyb1") == "unauthorized")

        // Both agents' heartbeats arrive, each checked with its own node's key.
        for _ in 0..<100 where await receiver.inventories.count < 2 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(await Set(receiver.inventories.keys) == ["keya1", "keyb1"])
        // A heartbeat signed with A's key in B's name is refused.
        let forged = NodeInventory(node: "keyb1", services: [], packages: ["forged-1-1.noarch"],
                                   takenAt: Int64(Date().timeIntervalSince1970))
        let outcome: String
        do {
            outcome = try await client(keyA, port: heartbeatPort).send(
                .request(.heartbeat, node: "keyb1", service: "-", payload: [forged.jsonText()])).code.rawValue
        } catch {
            outcome = error.code.rawValue
        }
        #expect(outcome != "ok")
        #expect(await receiver.inventories["keyb1"]?.packages.contains("forged-1-1.noarch") == false)
    }
}
