import Drivers
import Foundation
import LabSupport
import Testing

/// VOD on two nodes through real dnf, over TCP, with the agent's answers checked against dnf's history, the RPM
/// database and the process table.
@Suite(.serialized)
struct AgentDNFInstallTests {
    @Test func installVODOnTwoNodesThenUninstallInReverse() async throws {
        let repository = try await PackageLab.repository()
        let nodes = [try LabNode("node17"), try LabNode("node18")]
        var agents: [RunningAgent] = []
        defer {
            agents.forEach { $0.stop() }
            nodes.forEach { $0.cleanUp() }
        }
        for node in nodes { agents.append(try await RunningAgent.start(node.agent())) }
        let vod = PackageLab.vod(repository: repository)

        for (node, agent) in zip(nodes, agents) {
            let answer = try await agent.client().install(vod, on: node.name)
            #expect(answer.code == .ok, "\(answer.detail)")
            let report = try #require(answer.report)
            #expect(report.isHealthy)
            #expect(report.software.map(\.installed) == ["std_cd-1.0-1.noarch", "std_cs-1.0-1.noarch"])

            // dnf's history: std_cd (with the shell it needs) strictly before std_cs, one transaction each.
            let history = await node.history()
            let installs = history.filter { $0.action == "Install" }.map(\.package)
            let cd = try #require(installs.firstIndex { $0.hasPrefix("std_cd-1.0-1.noarch") })
            let cs = try #require(installs.firstIndex { $0.hasPrefix("std_cs-1.0-1.noarch") })
            #expect(cd < cs)
            // The %post scriptlet ran inside the root with the busybox shell.
            #expect(FileManager.default.fileExists(atPath: "\(node.root)/usr/share/std_cd/post-ran"))

            // mediaServer runs, and it is this node's.
            let pids = try #require(report.software.first { $0.process == "mediaServer" }?.pids)
            #expect(!pids.isEmpty)
            for pid in pids {
                let comm = try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
                #expect(comm.trimmingCharacters(in: .newlines) == "mediaServer")
                #expect(node.processes().contains(pid))
            }
            let status = try await agent.client().status(vod, on: node.name)
            #expect(status.code == .ok)
            #expect(status.report?.software.first { $0.process == "mediaServer" }?.pids == pids)
        }

        // Installing again changes nothing: no new dnf transaction, the same process.
        let before = await nodes[0].history().count
        let again = try await agents[0].client().install(vod, on: nodes[0].name)
        #expect(again.code == .ok)
        #expect(again.detail.contains("installed 0 of 2"))
        #expect(await nodes[0].history().count == before)

        // Uninstall on node17: processes stopped, std_cs removed before std_cd; node18 untouched.
        let removed = try await agents[0].client().uninstall(vod, on: nodes[0].name)
        #expect(removed.code == .ok, "\(removed.detail)")
        #expect(removed.report?.isAbsent == true)
        let removals = await nodes[0].history().filter { $0.action == "Removed" }.map(\.package)
        let cs = try #require(removals.firstIndex { $0.hasPrefix("std_cs-1.0-1.noarch") })
        let cd = try #require(removals.firstIndex { $0.hasPrefix("std_cd-1.0-1.noarch") })
        #expect(cs < cd)
        #expect(await nodes[0].installedPackages() == ["rs-busybox-sh-1.0-1.x86_64"])
        #expect(try await agents[0].client().status(vod, on: nodes[0].name).code == .notInstalled)
        #expect(try await agents[1].client().status(vod, on: nodes[1].name).code == .ok)
        #expect(await nodes[0].databaseIsConsistent())
    }

    @Test func statusSeesDriftAndInstallRepairsIt() async throws {
        let served = try await ServedNode.start("node21")
        defer { served.stop() }
        let (node, agent, vod) = (served.node, served.agent, served.vod)
        #expect(try await agent.client().install(vod, on: node.name).code == .ok)

        // The process dies.
        let pids = try #require(try await agent.client().status(vod, on: node.name).report?.software[1].pids)
        for pid in pids { kill(pid, SIGKILL) }
        #expect(await processesExit(pids), "mediaServer outlived SIGKILL")
        let dead = try await agent.client().status(vod, on: node.name)
        #expect(dead.code == .processNotRunning)
        #expect(dead.detail.contains("mediaServer"))

        // Install restarts it without reinstalling anything.
        let repaired = try await agent.client().install(vod, on: node.name)
        #expect(repaired.code == .ok)
        #expect(repaired.detail.contains("installed 0 of 2"))

        // An RPM removed by hand.
        let erase = await PackageLab.shell(
            "/usr/bin/rpm", ["--root", node.root, "-e", "--nodeps", "std_cd"], environment: node.environment)
        #expect(erase.succeeded, "\(erase.output)")
        let drifted = try await agent.client().status(vod, on: node.name)
        #expect(drifted.code == .notInstalled)
        #expect(drifted.report?.software.first?.installed == nil)

        // Inventory lists the service and every RPM.
        let inventory = try #require(try await agent.client().inventory(of: node.name).inventory)
        #expect(inventory.services.map(\.service) == ["VOD"])
        #expect(inventory.packages == ["rs-busybox-sh-1.0-1.x86_64", "std_cs-1.0-1.noarch"])
    }
}
