import Drivers
import DriversTesting
import Foundation
import Logging
import Reconciler
import Testing

/// A real `provision-agent` (the agent server over TCP, dnf in an install root) and a reconciler holding the wrong
/// site key: the agent refuses the signed request, and the node stalls after one attempt instead of being retried
/// with backoff (the defect the one error intent fixed).
struct WrongSiteKeyTests {
    @Test func aWrongSiteKeyStallsTheNodeAfterOneAttempt() async throws {
        let repository = try await PackageLab.repository()
        let node = try LabNode("svc-wrongkey")
        let running = try await RunningAgent.start(node.agent())
        let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("rs-key-\(UUID().uuidString)")
        var siteDirectory: URL?
        defer {
            running.stop()
            node.cleanUp()
            try? FileManager.default.removeItem(at: storeDirectory)
            if let siteDirectory { try? FileManager.default.removeItem(at: siteDirectory) }
        }
        let (desired, directory) = try ServiceReconcilerDNFTests.site(repository: repository,
                                                                      services: [node.name: ["vod"]])
        siteDirectory = directory
        let wrongKey = try #require(SiteKey(bytes: Array(repeating: 7, count: 32)))
        let agent = CountingAgent(inner: running.client(key: wrongKey))
        let store = try SQLiteStateStore(path: storeDirectory.appendingPathComponent("state.db").path)
        let target = try #require(desired.node(named: node.name))
        let plan = Plan(actions: [
            PlannedAction(node: target.name, rack: target.rack.value, wave: 1, kind: .installService,
                          destructive: false, detail: "", service: "vod"),
        ])
        let performer = DriverActionPerformer(
            desired: desired, store: store, boot: BootActionExecutor(driver: FakeBootDriver(), desired: desired),
            power: { _ in FakePowerDriver() }, agents: { _ in agent }, logger: Logger(label: "test.key"))
        let executor = Executor(desired: desired, store: store, performer: performer, policy: .init(maxAttempts: 5),
                                logger: Logger(label: "test.key"),
                                sleep: { _ in Issue.record("a refused key was retried") })
        let report = try await executor.execute(plan, commit: "c1")
        #expect(report.stalled[target.name]?.contains("unauthorized") == true, "\(report)")
        #expect(await agent.requests == 1, "one attempt, no retries")
        #expect(await node.installedPackages()?.contains { $0.hasPrefix("std_") } != true, "nothing was installed")
    }
}

/// Forwards to a real agent client, counting the requests.
actor CountingAgent: ServiceAgentDriver {
    let inner: ServiceAgentClient
    private(set) var requests = 0

    init(inner: ServiceAgentClient) { self.inner = inner }

    func request(_ command: ServiceCommand, node: String, service: String, definition: ServiceDefinition?)
        async throws(ServiceAgentError) -> ServiceAnswer
    {
        requests += 1
        return try await inner.request(command, node: node, service: service, definition: definition)
    }
}
