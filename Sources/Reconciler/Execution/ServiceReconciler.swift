import Drivers
import Foundation
import Logging

/// Converges the services of installed nodes through their agents, the paper's dynamic SW provisioning:
/// observe each node's services (drift included), plan the service changes, send each action as a service
/// request, and journal every step.
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
        /// Nodes whose actions failed, with the first error.
        public var failed: [String: String]
        public var actionsDone: Int
    }

    /// Observes, plans with the services scope, executes and journals. `commit` is recorded with each action.
    public func converge(commit: String?) async throws -> PassResult {
        let unreachable = try await observe()
        // Plan only for nodes observed in this pass: a node nobody could ask is left alone.
        var observed = try await store.observedState()
        observed.nodes = observed.nodes.filter { unreachable[$0.key] == nil }
        let plan = Planner.plan(desired: desired, observed: observed, policy: .init(scope: .services))
        let ids = try await store.journalPlanned(plan.actions, commit: commit, at: now())
        var byNode: [String: [(PlannedAction, Int64)]] = [:]
        var order: [String] = []
        for (action, id) in zip(plan.actions, ids) {
            if byNode[action.node] == nil { order.append(action.node) }
            byNode[action.node, default: []].append((action, id))
        }
        var failed: [String: String] = [:]
        var done = 0
        let cap = max(1, desired.site.rollout.concurrency)
        try await withThrowingTaskGroup(of: (String, Int, String?).self) { group in
            var pending = order[...]
            func startNext() {
                guard let name = pending.popFirst(), let node = desired.node(named: name) else { return }
                let steps = byNode[name] ?? []
                group.addTask { try await run(steps, on: node) }
            }
            for _ in 0..<cap { startNext() }
            while let (name, count, error) = try await group.next() {
                done += count
                if let error { failed[name] = error }
                startNext()
            }
        }
        return PassResult(plan: plan, unreachable: unreachable, failed: failed, actionsDone: done)
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
            logger.info("agent unreachable", metadata: ["node.name": "\(node.name)", "error": "\(error.description)"])
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

    /// Runs one node's actions in order; stops at the first failure and journals the rest as not run.
    private func run(_ steps: [(PlannedAction, Int64)], on node: Node) async throws -> (String, Int, String?) {
        let agent = agents(node)
        var done = 0
        for (index, (action, id)) in steps.enumerated() {
            try await store.journalStarted(id, at: now())
            let failure = await perform(action, on: node, agent: agent)
            if let failure {
                try await store.journalFailed(id, error: failure, at: now())
                for (skipped, skippedID) in steps.dropFirst(index + 1) {
                    try await store.journalFailed(
                        skippedID, error: "not run: \(action.kind.rawValue) failed before \(skipped.kind.rawValue)",
                        at: now())
                }
                var status = try await store.nodeRecord(node.name)?.status
                    ?? NodeStatus(phase: .ready, rack: node.rack.value)
                status.rack = node.rack.value
                try await store.record(status, lastError: failure, for: node.name, at: now())
                logger.info("service action failed", metadata: [
                    "node.name": "\(node.name)", "action.kind": "\(action.kind.rawValue)", "error": "\(failure)",
                ])
                return (node.name, done, failure)
            }
            try await store.journalFinished(id, at: now())
            done += 1
        }
        var status = try await store.nodeRecord(node.name)?.status ?? NodeStatus(phase: .ready, rack: node.rack.value)
        status.services = node.serviceNames.sorted()
        status.drifted = []
        try await store.record(status, lastError: nil, for: node.name, at: now())
        return (node.name, done, nil)
    }

    /// Sends one action as a service request; returns nil on success, else what went wrong.
    func perform(_ action: PlannedAction, on node: Node, agent: any ServiceAgentDriver) async -> String? {
        do {
            switch action.kind {
            case .installService:
                guard let name = action.service, let service = desired.service(named: name) else {
                    return "no service named \(action.service ?? "-") in the site"
                }
                let answer = try await agent.install(ServiceDefinition(service), on: node.name)
                return answer.code == .ok ? nil : "install \(name): \(answer.code.rawValue): \(answer.detail)"
            case .uninstallService:
                guard let name = action.service else { return "uninstall without a service name" }
                // A service removed from the repo is uninstalled by name: the agent kept its definition.
                let definition = desired.service(named: name).map(ServiceDefinition.init)
                let answer = try await agent.request(.uninstall, node: node.name, service: name, definition: definition)
                return answer.code == .ok ? nil : "uninstall \(name): \(answer.code.rawValue): \(answer.detail)"
            case .verifyServices:
                for name in node.serviceNames {
                    guard let service = desired.service(named: name) else { continue }
                    let answer = try await agent.status(ServiceDefinition(service), on: node.name)
                    if answer.code != .ok { return "verify \(name): \(answer.code.rawValue): \(answer.detail)" }
                }
                return nil
            default:
                return "\(action.kind.rawValue) is not a service action"
            }
        } catch {
            return error.description
        }
    }
}
