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

    /// A package that installs but whose service does not run (its start script exits 1; the process it starts
    /// dies at once): the answer names the step's own text, the package stays, the database is consistent.
    @Test(arguments: [
        (SoftwareEntry(name: "fs#1", rpm: "std_failstart-1.0-1.noarch.rpm", order: 1, script: "/etc/init.d/failstart",
                       process: "failstart"),
         ResponseCode.scriptFailed, ["/etc/init.d/failstart start exited 1", "cannot bind port 554"]),
        (SoftwareEntry(name: "flaky#1", rpm: "std_flaky-1.0-1.noarch.rpm", order: 1, script: "/etc/init.d/flaky",
                       process: "mediaServer"),
         .processNotRunning, ["mediaServer"]),
    ])
    func serviceThatDoesNotRun(entry: SoftwareEntry, code: ResponseCode, details: [String]) async throws {
        let repository = try await PackageLab.repository()
        let result = try await Self.install(Self.service([entry], repository: repository))
        #expect(result.answer.code == code)
        for detail in details { #expect(result.answer.detail.contains(detail), "\(result.answer.detail)") }
        if code == .processNotRunning { #expect(result.answer.report?.software.first?.pids == []) }
        #expect(result.packages == [String(entry.rpm.dropLast(".rpm".count))])
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

    /// dnf SIGKILLed while rpm runs a package's %post scriptlet: the answer quotes the signal, status agrees
    /// with an independent `rpm -qa`, the database passes `dnf check`, and the retry converges.
    @Test func dnfKilledInTheMiddleOfItsTransaction() async throws {
        let served = try await ServedNode.start("midcrash")
        defer { served.stop() }
        let (node, agent, repository) = (served.node, served.agent, served.repository)
        let slow = Self.service([
            SoftwareEntry(name: "cd#1", rpm: "std_cd-1.0-1.noarch.rpm", order: 1),
            SoftwareEntry(name: "slow#1", rpm: "std_slowpost-1.0-1.noarch.rpm", order: 2),
        ], repository: repository)
        let install = Task { try await agent.client().install(slow, on: node.name) }

        // Wait for std_slowpost's scriptlet (chrooted into the node's root), then kill dnf and the scriptlet.
        var killed: [Int32] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while killed.isEmpty, ContinuousClock.now < deadline {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            for pid in entries.compactMap(Int32.init) where node.chrooted(pid) {
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map {
                    String(decoding: $0, as: UTF8.self)
                } ?? ""
                guard !cmdline.isEmpty, let parent = Self.parent(of: pid) else { continue }
                let parentLine = FileManager.default.contents(atPath: "/proc/\(parent)/cmdline").map {
                    String(decoding: $0, as: UTF8.self)
                } ?? ""
                guard parentLine.contains("std_slowpost") else { continue }
                kill(parent, SIGKILL)
                kill(pid, SIGKILL)
                killed = [parent, pid]
            }
            if killed.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(!killed.isEmpty, "never saw std_slowpost's scriptlet run")
        let crashed = try await install.value
        #expect(crashed.code == .rpmFailed)
        #expect(crashed.detail.contains("step 2/2"))
        #expect(crashed.detail.contains("killed by signal 9"))

        // Status tells what the RPM database says, whatever that is after the crash.
        let packages = try #require(await node.installedPackages())
        let status = try await agent.client().status(slow, on: node.name)
        let reported = status.report?.software.compactMap(\.installed).sorted()
        #expect(reported == packages.filter { $0.hasPrefix("std_") })
        #expect(status.code == (packages.contains("std_slowpost-1.0-1.noarch") ? .ok : .notInstalled))
        #expect(await node.databaseIsConsistent())

        // The retry converges.
        let retried = try await agent.client().install(slow, on: node.name)
        #expect(retried.code == .ok, "\(retried.detail)")
        #expect(try await agent.client().status(slow, on: node.name).code == .ok)
    }

    /// The parent PID from `/proc/PID/stat`.
    static func parent(of pid: Int32) -> Int32? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let stat = String(decoding: data, as: UTF8.self)
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }
}
