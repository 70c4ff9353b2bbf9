import Drivers
import Foundation
import Testing

/// Each failure gives its own response code, says which step failed with dnf's or the script's own text, and
/// leaves the node's RPM database consistent.
@Suite(.serialized)
struct AgentDNFFailureTests {
    static func service(_ software: [SoftwareEntry], repository: String) -> ServiceDefinition {
        ServiceDefinition(name: "broken", software: software,
                          repositories: [RepositoryEntry(name: "lab", baseurl: "file://\(repository)")])
    }

    /// Installs `definition` on a fresh node and returns the answer and the node's packages afterwards.
    static func install(_ definition: ServiceDefinition, packageManager: String = "dnf")
        async throws -> (answer: ServiceAnswer, packages: [String]?, consistent: Bool)
    {
        let node = try LabNode("fail")
        let agent = try await RunningAgent.start(node.agent(packageManager: packageManager))
        defer {
            agent.stop()
            node.cleanUp()
        }
        let answer = try await agent.client().install(definition, on: node.name)
        return (answer, await node.installedPackages(), await node.databaseIsConsistent())
    }

    @Test func missingRPMKeepsEarlierStepsWithoutRollback() async throws {
        let repository = try await PackageLab.repository()
        let result = try await Self.install(Self.service([
            SoftwareEntry(name: "cd#1", rpm: "std_cd-1.0-1.noarch.rpm", order: 1),
            SoftwareEntry(name: "gone", rpm: "std_gone-1.0-1.noarch.rpm", order: 2),
        ], repository: repository))
        #expect(result.answer.code == .rpmFailed)
        #expect(result.answer.detail.contains("step 2/2"))
        #expect(result.answer.detail.contains("std_gone-1.0-1.noarch.rpm"))
        #expect(result.answer.detail.contains("No match for argument: std_gone-1.0-1.noarch"))
        #expect(result.packages == ["rs-busybox-sh-1.0-1.x86_64", "std_cd-1.0-1.noarch"])
        #expect(result.answer.report?.software.map { $0.installed != nil } == [true, false])
        #expect(result.consistent)
    }

    @Test func brokenDependency() async throws {
        let repository = try await PackageLab.repository()
        let result = try await Self.install(Self.service([
            SoftwareEntry(name: "broken#1", rpm: "std_broken-1.0-1.noarch.rpm", order: 1),
        ], repository: repository))
        #expect(result.answer.code == .rpmFailed)
        #expect(result.answer.detail.contains("nothing provides rs-does-not-exist"))
        #expect(result.packages == [])
        #expect(result.consistent)
    }

    @Test func startScriptExitingOne() async throws {
        let repository = try await PackageLab.repository()
        let result = try await Self.install(Self.service([
            SoftwareEntry(name: "fs#1", rpm: "std_failstart-1.0-1.noarch.rpm", order: 1,
                          script: "/etc/init.d/failstart", process: "failstart"),
        ], repository: repository))
        #expect(result.answer.code == .scriptFailed)
        #expect(result.answer.detail.contains("/etc/init.d/failstart start exited 1"))
        #expect(result.answer.detail.contains("cannot bind port 554"))
        #expect(result.packages == ["std_failstart-1.0-1.noarch"])
        #expect(result.consistent)
    }

    @Test func processDyingAfterStart() async throws {
        let repository = try await PackageLab.repository()
        let result = try await Self.install(Self.service([
            SoftwareEntry(name: "flaky#1", rpm: "std_flaky-1.0-1.noarch.rpm", order: 1,
                          script: "/etc/init.d/flaky", process: "mediaServer"),
        ], repository: repository))
        #expect(result.answer.code == .processNotRunning)
        #expect(result.answer.detail.contains("mediaServer"))
        #expect(result.answer.report?.software.first?.pids == [])
        #expect(result.packages == ["std_flaky-1.0-1.noarch"])
        #expect(result.consistent)
    }

    /// dnf killed in the middle of the service: the answer says so, status tells the truth, a retry finishes.
    @Test func dnfCrashThenTruthThenRetry() async throws {
        let repository = try await PackageLab.repository()
        let node = try LabNode("crash")
        let flag = "\(node.directory)/crash-on-std_cs"
        let wrapper = "\(node.directory)/dnf-wrapper"
        try """
            #!/bin/sh
            case "$*" in *std_cs*) [ -e "\(flag)" ] && kill -9 $$ ;; esac
            exec /usr/bin/dnf "$@"
            """.write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        _ = FileManager.default.createFile(atPath: flag, contents: nil)
        let agent = try await RunningAgent.start(node.agent(packageManager: wrapper))
        defer {
            agent.stop()
            node.cleanUp()
        }
        let vod = PackageLab.vod(repository: repository)
        let crashed = try await agent.client().install(vod, on: node.name)
        #expect(crashed.code == .rpmFailed)
        #expect(crashed.detail.contains("killed by signal 9"))
        let status = try await agent.client().status(vod, on: node.name)
        #expect(status.code == .notInstalled)
        #expect(status.report?.software.map { $0.installed != nil } == [true, false])
        #expect(await node.databaseIsConsistent())

        try FileManager.default.removeItem(atPath: flag)
        let retried = try await agent.client().install(vod, on: node.name)
        #expect(retried.code == .ok, "\(retried.detail)")
        #expect(retried.detail.contains("installed 1 of 2"))
    }
}
