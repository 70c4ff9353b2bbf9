import Drivers
import DriversTesting
import Logging
import Testing

/// The agent's install/uninstall/status logic over fakes (the real-dnf tests are in `AgentDNFTests`).
struct ProvisioningAgentLogicTests {
    static let key = SiteKey(bytes: Array("logic-tests-site-key-0000".utf8))!
    static let vod = ServiceDefinition(
        name: "VOD",
        software: [
            SoftwareEntry(name: "cs#1", rpm: "std_cs-1.0-1.noarch.rpm", order: 2, script: "/etc/init.d/cs",
                          process: "mediaServer"),
            SoftwareEntry(name: "cd#1", rpm: "std_cd-1.0-1.noarch.rpm", order: 1),
        ])

    struct Rig {
        let agent: ProvisioningAgent
        let installer: FakePackageInstaller
        let processes: FakeProcessTable
        let runner: FakeCommandRunner
        let authenticator = MessageAuthenticator(key: ProvisioningAgentLogicTests.key)
        var now: Int64 = 50_000

        init() async {
            installer = FakePackageInstaller()
            processes = FakeProcessTable()
            runner = FakeCommandRunner(processes: processes)
            await runner.spawn("mediaServer", whenStarting: "/etc/init.d/cs")
            agent = ProvisioningAgent(
                configuration: .init(node: "node17", processStartTimeout: .milliseconds(300),
                                     settleTime: .milliseconds(10)),
                key: ProvisioningAgentLogicTests.key, installer: installer, processes: processes, runner: runner,
                logger: Logger(label: "test"), clock: { 50_000 })
        }

        func send(_ command: ServiceCommand, _ definition: ServiceDefinition? = vod, node: String = "node17")
            async -> ServiceMessage
        {
            let request = ServiceMessage.request(
                command, node: node, service: definition?.name ?? "VOD", payload: definition.map { [$0.jsonText()] } ?? [])
            let response = await agent.answer(.success(authenticator.sign(request, timestamp: now)))
            guard case .success(let verified) = authenticator.verify(response) else { return response }
            return verified.message
        }
    }

    @Test func installsInOrderStartsScriptsAndChecksProcesses() async {
        let rig = await Rig()
        let response = await rig.send(.install)
        #expect(response.code == .ok)
        #expect(await rig.installer.calls == [.install("std_cd-1.0-1.noarch"), .install("std_cs-1.0-1.noarch")])
        #expect(await rig.runner.invocations.map(\.arguments) == [["start"]])
        let report = ServiceReport(jsonText: response.payload[1])
        #expect(report?.isHealthy == true)
    }

    @Test func installIsIdempotent() async {
        let rig = await Rig()
        _ = await rig.send(.install)
        let again = await rig.send(.install)
        #expect(again.code == .ok)
        #expect(again.payload[0].contains("installed 0 of 2"))
        #expect(await rig.installer.calls.count == 2)
        #expect(await rig.runner.invocations.count == 1)
    }

    @Test func failureAtStepKKeepsEarlierStepsAndSaysWhich() async {
        let rig = await Rig()
        await rig.installer.failInstall(of: "std_cs-1.0-1.noarch", detail: "Error: Unable to find a match")
        let response = await rig.send(.install)
        #expect(response.code == .rpmFailed)
        #expect(response.payload[0].contains("step 2/2"))
        #expect(response.payload[0].contains("std_cs-1.0-1.noarch.rpm"))
        #expect(response.payload[0].contains("Unable to find a match"))
        #expect(await rig.installer.installed == ["std_cd-1.0-1.noarch"])
        #expect(await rig.runner.invocations.isEmpty)
    }

    @Test func uninstallStopsThenRemovesInReverseOrder() async {
        let rig = await Rig()
        _ = await rig.send(.install)
        let response = await rig.send(.uninstall)
        #expect(response.code == .ok)
        let calls = await rig.installer.calls
        #expect(Array(calls.suffix(2)) == [.remove("std_cs"), .remove("std_cd")])
        #expect(await rig.processes.stopped == ["mediaServer"])
        #expect(await rig.runner.invocations.map(\.arguments).last == ["stop"])
    }

    @Test func restartStopsThenStartsAgain() async {
        let rig = await Rig()
        _ = await rig.send(.install)
        let response = await rig.send(.restart)
        #expect(response.code == .ok)
        #expect(await rig.processes.stopped == ["mediaServer"])
        #expect(await rig.runner.invocations.map(\.arguments) == [["start"], ["stop"], ["start"]])
        #expect(ServiceReport(jsonText: response.payload[1])?.isHealthy == true)
        #expect(await rig.installer.calls.count == 2)
    }

    @Test func statusReportsDrift() async {
        let rig = await Rig()
        _ = await rig.send(.install)
        #expect(await rig.send(.status).code == .ok)
        await rig.processes.kill("mediaServer")
        #expect(await rig.send(.status).code == .processNotRunning)
        await rig.installer.removeBehindTheAgentsBack("std_cd-1.0-1.noarch")
        let response = await rig.send(.status)
        #expect(response.code == .notInstalled)
        #expect(response.payload[0].contains("std_cd"))
        // A status without a definition uses the one recorded at install.
        #expect(await rig.send(.status, nil).code == .notInstalled)
    }

    @Test func unknownServiceWrongNodeAndUnknownCommand() async {
        let rig = await Rig()
        #expect(await rig.send(.status, nil).code == .unknownService)
        #expect(await rig.send(.install, node: "node18").code == .wrongNode)
        #expect(await rig.send(ServiceCommand(rawValue: "reboot")).code == .unknownCommand)
        #expect(await rig.installer.calls.isEmpty)
    }

    @Test func unauthenticatedForgedAndReplayedRequestsRunNothing() async {
        let rig = await Rig()
        let request = ServiceMessage.request(.install, node: "node17", service: "VOD", payload: [Self.vod.jsonText()])
        #expect(await rig.agent.answer(.success(request)).code == .unauthorized)
        let forged = MessageAuthenticator(key: SiteKey(bytes: Array("not-the-site-key-at-all".utf8))!)
            .sign(request, timestamp: rig.now)
        #expect(await rig.agent.answer(.success(forged)).code == .unauthorized)
        let stale = rig.authenticator.sign(request, timestamp: rig.now - 3600)
        #expect(await rig.agent.answer(.success(stale)).code == .unauthorized)
        #expect(await rig.installer.calls.isEmpty)
        let genuine = rig.authenticator.sign(request, timestamp: rig.now)
        #expect(await rig.agent.answer(.success(genuine)).code == .ok)
        let replayed = await rig.agent.answer(.success(genuine))
        #expect(replayed.code == .unauthorized)
        #expect(replayed.payload.first == "replayed nonce")
        #expect(await rig.installer.calls.count == 2)
    }

    @Test func startScriptFailureAndDeadProcess() async {
        let rig = await Rig()
        await rig.runner.answer("/etc/init.d/cs", with: CommandResult(status: 1, output: "cannot bind"))
        let failed = await rig.send(.install)
        #expect(failed.code == .scriptFailed)
        #expect(failed.payload[0].contains("/etc/init.d/cs start exited 1: cannot bind"))

        let other = await Rig()
        await other.runner.answer("/etc/init.d/cs", with: CommandResult(status: 0))
        await other.runner.spawn("somethingElse", whenStarting: "/etc/init.d/cs")
        #expect(await other.send(.install).code == .processNotRunning)
    }
}

/// Status answers become observations the reconciler plans from; the fake agent plays the fleet.
struct ServiceObservationTests {
    @Test func driftAbsentRunningAndUnknown() async {
        let fleet = FakeServiceAgent()
        let vod = ProvisioningAgentLogicTests.vod
        #expect(await fleet.observe([vod], on: "node17") == ["VOD": .absent])
        _ = try? await fleet.install(vod, on: "node17")
        #expect(await fleet.observe([vod], on: "node17") == ["VOD": .running])
        await fleet.answer(node: "node17", with: .processNotRunning)
        #expect(await fleet.observe([vod], on: "node17") == ["VOD": .drifted("scripted")])
        await fleet.fail(node: "node18", with: ServiceAgentError(.unreachable, "node18: connection refused"))
        #expect(await fleet.observe([vod], on: "node18") == ["VOD": .unknown("unreachable: node18: connection refused")])
        #expect(await fleet.calls.map(\.command) == [.status, .install, .status, .status, .status])
    }

    @Test func notInstalledWithSomethingLeftIsDrift() {
        let request = ServiceMessage.request(.status, node: "n", service: "VOD")
        let partial = ServiceReport(service: "VOD", software: [
            SoftwareState(name: "cd#1", rpm: "std_cd-1.0-1.noarch.rpm", installed: nil, process: nil, pids: []),
            SoftwareState(name: "cs#1", rpm: "std_cs-1.0-1.noarch.rpm", installed: "std_cs-1.0-1.noarch",
                          process: "mediaServer", pids: [42]),
        ])
        let none = ServiceReport(service: "VOD", software: [
            SoftwareState(name: "cd#1", rpm: "std_cd-1.0-1.noarch.rpm", installed: nil, process: nil, pids: []),
        ])
        let drifted = ServiceAnswer(message: request.response(.notInstalled, payload: ["x", partial.jsonText()]))
        let absent = ServiceAnswer(message: request.response(.notInstalled, payload: ["x", none.jsonText()]))
        #expect(ServiceObservation(status: drifted) == .drifted("x"))
        #expect(ServiceObservation(status: absent) == .absent)
    }
}

/// The reconciler's heartbeat end keeps only authentic, fresh inventories, each signed with its node's own key.
struct HeartbeatReceiverTests {
    @Test func keepsAuthenticInventoriesOnly() async {
        let key = ProvisioningAgentLogicTests.key
        let receiver = HeartbeatReceiver(key: key, clock: { 70_000 })
        let inventory = NodeInventory(node: "node17", services: [], packages: ["std_cd-1.0-1.noarch"], takenAt: 70_000)
        let beat = ServiceMessage.request(.heartbeat, node: "node17", service: "-", payload: [inventory.jsonText()])
        // The site key itself is not a node's key.
        #expect(await receiver.answer(.success(MessageAuthenticator(key: key).sign(beat, timestamp: 70_000))).code
                == .unauthorized)
        let signed = MessageAuthenticator(key: key.agentKey(forNode: "node17")).sign(beat, timestamp: 70_000)
        #expect(await receiver.answer(.success(signed)).code == .ok)
        #expect(await receiver.inventories["node17"] == inventory)
        #expect(await receiver.answer(.success(signed)).code == .unauthorized)
        let forged = MessageAuthenticator(key: SiteKey(bytes: Array("someone-elses-key-000".utf8))!)
            .sign(ServiceMessage.request(.heartbeat, node: "node18", service: "-", payload: [inventory.jsonText()]),
                  timestamp: 70_000)
        #expect(await receiver.answer(.success(forged)).code == .unauthorized)
        #expect(await receiver.inventories["node18"] == nil)
    }
}
