import Drivers
import Foundation
import Logging

/// The services side of the paper's dynamic SW provisioning: observes each installed node's services through its
/// agent (drift included) and sends service steps as service requests. The steps run through the one `Executor`
/// (its retries, failure budget and journal), as `DriverActionPerformer` service actions; `converge` is the
/// services-only pass (`reconcile --scope services`).
///
/// It never powers, boots or images a node: nodes whose agent does not answer are reported and left alone.
public struct ServiceReconciler: Sendable {
    /// Makes the agent client for one node (address from the node's IP and the site's agent port).
    public typealias AgentFactory = @Sendable (Node) -> any ServiceAgentDriver

    public let desired: DesiredState
    public let store: any StateStore
    public let agents: AgentFactory
    public let logger: Logger
    public let now: @Sendable () -> Date

    public init(desired: DesiredState, store: any StateStore, agents: @escaping AgentFactory, logger: Logger,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.desired = desired
        self.store = store
        self.agents = agents
        self.logger = logger
        self.now = now
    }

    /// What one pass did.
    public struct PassResult: Sendable {
        public var plan: Plan
        /// Nodes whose agent could not be asked, with why.
        public var unreachable: [String: String]
        /// Nodes whose actions failed or stalled, with the last error.
        public var failed: [String: String]
        public var actionsDone: Int
    }

    /// Observes, plans with the services scope, and executes through the `Executor` (retries by intent, the
    /// failure budget, the journal). `commit` is recorded with each action.
    public func converge(commit: String?, policy: Executor.Policy = .init(),
                         sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) })
        async throws -> PassResult
    {
        let unreachable = try await observe()
        // Plan only for nodes observed in this pass: a node nobody could ask is left alone.
        var observed = try await store.observedState()
        observed.nodes = observed.nodes.filter { unreachable[$0.key] == nil }
        let plan = Planner.plan(desired: desired, observed: observed, policy: .init(scope: .services))
        var policy = policy
        policy.scope = .services
        let executor = Executor(desired: desired, store: store, performer: ServicePerformer(services: self),
                                policy: policy, logger: logger, sleep: sleep, now: now)
        let report = try await executor.execute(plan, commit: commit)
        let failed = report.failed.merging(report.stalled) { first, _ in first }
        return PassResult(plan: plan, unreachable: unreachable, failed: failed, actionsDone: report.actionsDone)
    }

    /// Asks every present node's agent (or only those named) what it runs and records it; a node's recent
    /// heartbeat inventory stands in for asking it. Returns the nodes that could not be asked.
    public func observe(only names: Set<String>? = nil, heartbeats: [String: NodeInventory] = [:]) async throws
        -> [String: String]
    {
        let cap = max(1, desired.site.rollout.concurrency)
        var unreachable: [String: String] = [:]
        let nodes = desired.nodes.filter { node in
            node.state == .present && names.map { $0.contains(node.name) } ?? true
        }
        try await withThrowingTaskGroup(of: (String, String?).self) { group in
            var pending = nodes[...]
            func startNext() {
                guard let node = pending.popFirst() else { return }
                let heartbeat = heartbeats[node.name]
                group.addTask { (node.name, try await observe(node, heartbeat: heartbeat)) }
            }
            for _ in 0..<cap { startNext() }
            while let (name, error) = try await group.next() {
                if let error { unreachable[name] = error }
                startNext()
            }
        }
        return unreachable
    }

    /// Observes one node; returns an error text when its agent could not be asked.
    private func observe(_ node: Node, heartbeat: NodeInventory?) async throws -> String? {
        let agent = agents(node)
        var reports: [String: ServiceReport] = [:]
        // What to ask about: the services the repo wants here, and those last seen installed (they may have left
        // the repo and need uninstalling). The agent's inventory adds any others it knows.
        let previous = try await store.nodeRecord(node.name)
        var names = node.serviceNames
        for name in previous?.status.services ?? [] where !names.contains(name) { names.append(name) }
        do {
            let inventory = if let heartbeat { heartbeat } else { try await agent.inventory(of: node.name).inventory }
            for report in inventory?.services ?? [] { reports[report.service] = report }
            for name in names where reports[name] == nil {
                let definition = desired.service(named: name).map(ServiceDefinition.init)
                let answer = try await agent.request(.status, node: node.name, service: name, definition: definition)
                guard let report = answer.report else {
                    return "status of \(name): \(answer.code.rawValue): \(answer.detail)"
                }
                reports[name] = report
            }
        } catch {
            var status = previous?.status ?? NodeStatus(phase: .unknown, rack: node.rack.value)
            status.rack = node.rack.value
            try await store.record(status, lastError: "agent: \(error.description)", for: node.name, at: now())
            logger.info("agent unreachable", metadata: ["node": "\(node.name)", "error": "\(error.description)"])
            return error.description
        }
        let installed = reports.values.filter { !$0.isAbsent }
        var status = previous?.status ?? NodeStatus(phase: .ready, rack: node.rack.value)
        if status.phase == .unknown { status.phase = .ready }
        status.rack = node.rack.value
        status.services = installed.map(\.service).sorted()
        status.drifted = installed.filter { !$0.isHealthy }.map(\.service).sorted()
        try await store.record(status, lastError: previous?.lastError, for: node.name, at: now())
        return nil
    }

    /// Sends one action as a service request. An agent error keeps its intent (a wrong site key stalls); an answer
    /// other than `ok` is transient (the next attempt may get a package the mirror lacked).
    func perform(_ action: PlannedAction, on node: Node, agent: any ServiceAgentDriver) async throws {
        func check(_ answer: ServiceAnswer, _ what: String) throws {
            guard answer.code != .ok else { return }
            throw ActionFailure("\(what): \(answer.code.rawValue): \(answer.detail)", intent: .transient)
        }
        switch action.kind {
        case .installService:
            guard let name = action.service, let service = desired.service(named: name) else {
                throw ActionFailure("no service named \(action.service ?? "-") in the site", intent: .stalled)
            }
            try check(try await agent.install(ServiceDefinition(service), on: node.name), "install \(name)")
        case .uninstallService:
            guard let name = action.service else {
                throw ActionFailure("uninstall without a service name", intent: .stalled)
            }
            // A service removed from the repo is uninstalled by name: the agent kept its definition.
            let definition = desired.service(named: name).map(ServiceDefinition.init)
            try check(try await agent.request(.uninstall, node: node.name, service: name, definition: definition),
                      "uninstall \(name)")
        case .verifyServices:
            for name in node.serviceNames {
                guard let service = desired.service(named: name) else { continue }
                try check(try await agent.status(ServiceDefinition(service), on: node.name), "verify \(name)")
            }
        default:
            throw ActionFailure("\(action.kind.rawValue) is not a service action", intent: .stalled)
        }
    }
}

/// The services pass's performer: service steps to the node's agent, nothing else.
struct ServicePerformer: ActionPerformer {
    let services: ServiceReconciler

    func perform(_ action: PlannedAction, on node: Node, image: Image?, attempt: StepAttempt) async throws
        -> StepResult
    {
        try await services.perform(action, on: node, agent: services.agents(node))
        return .done
    }
}
