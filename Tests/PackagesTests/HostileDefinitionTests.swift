import Drivers
import Foundation
import Testing

/// Definitions arrive over the network: a package name that looks like a dnf option, and a start script that
/// climbs out of the install root, go to the real agent with real dnf and must do neither.
@Suite(.serialized)
struct HostileDefinitionTests {
    @Test func rpmStartingWithDashReachesDNFAsAPackageNotAnOption() async throws {
        let repository = try await PackageLab.repository()
        // Without `--`, dnf reads `--version` as its own option, prints its version and exits 0.
        let result = try await AgentDNFFailureTests.install(AgentDNFFailureTests.service([
            SoftwareEntry(name: "sneaky", rpm: "--version", order: 1),
        ], repository: repository))
        #expect(result.answer.code == .rpmFailed, "\(result.answer.detail)")
        // After `--` dnf takes it as a package spec and refuses the transaction (no dnf version printed, exit 2).
        #expect(result.answer.detail.contains("rpm --version failed"), "\(result.answer.detail)")
        #expect(result.packages == [])
    }

    @Test func startScriptCannotEscapeTheInstallRoot() async throws {
        let repository = try await PackageLab.repository()
        let node = try LabNode("escape")
        let agent = try await RunningAgent.start(node.agent())
        defer {
            agent.stop()
            node.cleanUp()
        }
        // A script beside the root (outside it) that would leave a mark if it ran.
        let marker = "\(node.directory)/escaped"
        try "#!/bin/sh\ntouch \(marker)\n".write(toFile: "\(node.directory)/x", atomically: true, encoding: .utf8)
        chmod("\(node.directory)/x", 0o755)
        let definition = AgentDNFFailureTests.service([
            SoftwareEntry(name: "cd#1", rpm: "std_cd-1.0-1.noarch.rpm", order: 1, script: "/../x", process: "x"),
        ], repository: repository)
        let answer = try await agent.client().install(definition, on: node.name)
        #expect(answer.code == .scriptFailed, "\(answer.detail)")
        #expect(answer.detail.contains("'..' component"), "\(answer.detail)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test(arguments: [
        ("/etc/init.d/x", "/r/etc/init.d/x"), ("//etc//x", "/r/etc/x"), ("/../x", nil), ("/a/../../x", nil),
        ("x", nil), ("/", nil), ("", nil),
    ])
    func hostPaths(script: String, expected: String?) {
        #expect(ProvisioningAgent.hostPath(script, installRoot: "/r") == expected)
    }
}
