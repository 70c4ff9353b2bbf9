import Drivers
import DriversTesting
import Foundation
import Logging
import Reconciler
import ReconcilerTesting
import Testing

/// The services pass over fake agents: install, converge to a fixpoint, failures, unreachable nodes, removal.
struct ServiceReconcilerTests {
    static func desired() throws -> DesiredState {
        try #require(SiteLoader.load(path: Repo.examples.appendingPathComponent("datacenter").path).state)
    }

    func reconciler(_ desired: DesiredState, _ store: any StateStore, _ agent: FakeServiceAgent) -> ServiceReconciler {
        ServiceReconciler(desired: desired, store: store, agents: { _ in agent }, logger: Logger(label: "test"))
    }

    @Test func installsThenReachesAFixpoint() async throws {
        let desired = try Self.desired()
        let store = MemoryStateStore()
        let agent = FakeServiceAgent()
        let first = try await reconciler(desired, store, agent).converge(commit: "c1")
        #expect(first.failed.isEmpty && first.unreachable.isEmpty)
        #expect(first.plan.summary.serviceChanges == 6, "six nodes have services, two have none")
        #expect(await agent.installed["r1n3"] == ["vod"])
        let journal = await store.journal(node: nil)
        #expect(journal.allSatisfy { $0.state == .finished && $0.commit == "c1" })
        #expect(await store.observedState().nodes["r1n3"]?.services == ["vod"])

        let second = try await reconciler(desired, store, agent).converge(commit: "c1")
        #expect(second.plan.isEmpty)
    }

    @Test func driftIsRepairedAndRemovedServicesUninstalled() async throws {
        var desired = try Self.desired()
        let store = MemoryStateStore()
        let agent = FakeServiceAgent()
        _ = try await reconciler(desired, store, agent).converge(commit: "c1")
        // The repo drops vod from r1n4.
        let index = try #require(desired.nodes.firstIndex { $0.name == "r1n4" })
        desired.nodes[index].services = []
        let pass = try await reconciler(desired, store, agent).converge(commit: "c2")
        #expect(pass.plan.changes == ["r1n4": .services])
        #expect(pass.plan.actions.map(\.kind) == [.uninstallService])
        #expect(await agent.installed["r1n4"] == [])
        let last = try #require(await agent.calls.last)
        #expect(last.command == .uninstall && last.node == "r1n4" && last.service == "vod")
    }

    @Test func failuresAndUnreachableNodesDoNotStopTheOthers() async throws {
        let desired = try Self.desired()
        let store = MemoryStateStore()
        let agent = FakeServiceAgent()
        await agent.fail(node: "r1n1", with: ServiceAgentError(.unreachable, "connection refused"))
        let failing = InstallFails(node: "r2n1", inner: agent)
        let reconciler = ServiceReconciler(desired: desired, store: store, agents: { _ in failing },
                                           logger: Logger(label: "test"))
        let pass = try await reconciler.converge(commit: "c1", policy: .init(maxAttempts: 2), sleep: { _ in })
        #expect(pass.unreachable.keys.sorted() == ["r1n1"])
        #expect(pass.failed.keys.sorted() == ["r2n1"])
        #expect(pass.failed["r2n1"]?.contains("rpm-failed") == true)
        #expect(await agent.installed["r2n2"] == ["vod"], "the rest converged")
        let r2n1 = await store.journal(node: "r2n1")
        #expect(r2n1.map(\.state) == [.failed, .failed])
        #expect(r2n1.last?.error?.hasPrefix("not run") == true)
        #expect(await store.nodeRecord("r2n1")?.lastError?.contains("rpm-failed") == true)
        #expect(await store.nodeRecord("r1n1")?.lastError?.contains("unreachable") == true)
        #expect(await store.journal(node: "r1n1").isEmpty, "nothing is planned for a node nobody could ask")
    }
}

extension ServiceReconcilerTests {
    /// The defect this guards: an agent that refuses our signature (a wrong site key) was retried as transient
    /// with backoff. Its error keeps its intent through the one executor: the node stalls after one attempt.
    @Test func aWrongSiteKeyStallsTheNodeAfterOneAttempt() async throws {
        let desired = try Self.desired()
        let store = MemoryStateStore()
        let agent = FakeServiceAgent()
        let refusing = RefusesInstalls(node: "r2n1", inner: agent)
        let reconciler = ServiceReconciler(desired: desired, store: store, agents: { _ in refusing },
                                           logger: Logger(label: "test"))
        let pass = try await reconciler.converge(commit: "c1", sleep: { _ in Issue.record("slept before a retry") })
        #expect(pass.failed["r2n1"]?.contains("unauthorized") == true)
        #expect(await refusing.installs.count == 1, "one attempt, no retries")
        #expect(await agent.installed["r2n2"] == ["vod"], "the other nodes converged")
        #expect(await store.nodeRecord("r2n1")?.status.phase == .ready, "a services pass never fails the image")
    }
}

/// Forwards to the fake fleet, except that installs on one node are refused as a wrong key would be.
actor RefusesInstalls: ServiceAgentDriver {
    let node: String
    let inner: FakeServiceAgent
    private(set) var installs: [String] = []

    init(node: String, inner: FakeServiceAgent) {
        self.node = node
        self.inner = inner
    }

    func request(_ command: ServiceCommand, node: String, service: String, definition: ServiceDefinition?)
        async throws(ServiceAgentError) -> ServiceAnswer
    {
        guard command == .install, node == self.node else {
            return try await inner.request(command, node: node, service: service, definition: definition)
        }
        installs.append(service)
        throw ServiceAgentError(.unauthorized, "127.0.0.1:7000 refused the request (wrong site key or clock skew?)")
    }
}

/// Forwards to the fake fleet, except that installs on one node answer `rpm-failed`.
struct InstallFails: ServiceAgentDriver {
    let node: String
    let inner: FakeServiceAgent

    func request(_ command: ServiceCommand, node: String, service: String, definition: ServiceDefinition?)
        async throws(ServiceAgentError) -> ServiceAnswer
    {
        guard command == .install, node == self.node else {
            return try await inner.request(command, node: node, service: service, definition: definition)
        }
        let request = ServiceMessage.request(command, node: node, service: service)
        return ServiceAnswer(message: request.response(.rpmFailed, payload: ["nothing provides libfoo"]))
    }
}
