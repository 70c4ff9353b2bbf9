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
    /// Makes the rotation client for one node (its key from the previous site key, and from the current one);
    /// nil when no previous site key is configured.
    public typealias RotationFactory = @Sendable (Node) -> (any AgentKeyRotating)?

    public let desired: DesiredState
    public let store: any StateStore
    public let agents: AgentFactory
    /// Site key rotation: how to reach an agent that still holds its key from the previous site key.
    public let rotation: RotationFactory
    public let logger: Logger
    public let now: @Sendable () -> Date

    public init(desired: DesiredState, store: any StateStore, agents: @escaping AgentFactory,
                rotation: @escaping RotationFactory = { _ in nil }, logger: Logger,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.desired = desired
        self.store = store
        self.agents = agents
        self.rotation = rotation
        self.logger = logger
        self.now = now
    }

    /// What asking the agents found, beyond the status each node's record now holds.
    public struct Observation: Sendable, Hashable {
        /// Nodes whose agent could not be asked, with why.
        public var unreachable: [String: String] = [:]
        /// Nodes whose agent refused the current site key's node key while a previous site key is configured:
        /// each is to get a `rekeyAgent` (those that took the previous key's were observed under it).
        public var rekey: Set<String> = []
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
        let observation = try await observe()
        let unreachable = observation.unreachable
        // Plan only for nodes observed in this pass: a node nobody could ask is left alone (but for its rekey).
        var observed = try await store.observedState()
        observed.nodes = observed.nodes.filter { unreachable[$0.key] == nil }
        let plan = Planner.plan(desired: desired, observed: observed,
                                policy: .init(scope: .services, rekey: observation.rekey))
        var policy = policy
        policy.scope = .services
        let executor = Executor(desired: desired, store: store, performer: ServicePerformer(services: self),
                                policy: policy, logger: logger, sleep: sleep, now: now)
        let report = try await executor.execute(plan, commit: commit)
        let failed = report.failed.merging(report.stalled) { first, _ in first }
        return PassResult(plan: plan, unreachable: unreachable, failed: failed, actionsDone: report.actionsDone)
    }

    /// Asks every present node's agent (or only those named) what it runs and records it; a node's recent
    /// heartbeat inventory stands in for asking it. Says which nodes could not be asked and which need a rekey.
    public func observe(only names: Set<String>? = nil, heartbeats: [String: NodeInventory] = [:]) async throws
        -> Observation
    {
        let cap = max(1, desired.site.rollout.concurrency)
        var observation = Observation()
        let nodes = desired.nodes.filter { node in
            node.state == .present && names.map { $0.contains(node.name) } ?? true
        }
        try await withThrowingTaskGroup(of: (String, NodeObservation).self) { group in
            var pending = nodes[...]
            func startNext() {
                guard let node = pending.popFirst() else { return }
                let heartbeat = heartbeats[node.name]
                group.addTask { (node.name, try await observe(node, heartbeat: heartbeat)) }
            }
            for _ in 0..<cap { startNext() }
            while let (name, found) = try await group.next() {
                if let error = found.error { observation.unreachable[name] = error }
                if found.rekey { observation.rekey.insert(name) }
                startNext()
            }
        }
        return observation
    }

    /// What observing one node found: an error text when its agent could not be asked, and whether it needs a
    /// rekey.
    struct NodeObservation: Sendable {
        var error: String?
        var rekey = false
    }

    /// Observes one node. An agent that refuses the current site key's node key is asked again under the previous
    /// site key's (when one is configured): it is observed that way, and marked for a rekey either way.
    private func observe(_ node: Node, heartbeat: NodeInventory?) async throws -> NodeObservation {
        // What to ask about: the services the repo wants here, and those last seen installed (they may have left
        // the repo and need uninstalling). The agent's inventory adds any others it knows.
        let previous = try await store.nodeRecord(node.name)
        var names = node.serviceNames
        for name in previous?.status.services ?? [] where !names.contains(name) { names.append(name) }
        var rekey = false
        var reports: [String: ServiceReport] = [:]
        var failure = await ask(agents(node), node, names: names, heartbeat: heartbeat, into: &reports)
        if let refusal = failure as? ServiceAgentError, refusal.code == .unauthorized, let rotation = rotation(node) {
            rekey = true
            failure = await ask(rotation.previous, node, names: names, heartbeat: nil, into: &reports)
            if let second = failure as? ServiceAgentError {
                failure = ServiceAgentError(second.code, Self.refusedBoth(refusal, second))
            }
        }
        if let missing = failure as? MissingReport { return NodeObservation(error: missing.text, rekey: rekey) }
        if let failure {
            var status = previous?.status ?? NodeStatus(phase: .unknown, rack: node.rack.value)
            status.rack = node.rack.value
            try await store.record(status, lastError: "agent: \(failure)", for: node.name, at: now())
            logger.info("agent unreachable", metadata: ["node": "\(node.name)", "error": "\(failure)"])
            return NodeObservation(error: "\(failure)", rekey: rekey)
        }
        let installed = reports.values.filter { !$0.isAbsent }
        var status = previous?.status ?? NodeStatus(phase: .ready, rack: node.rack.value)
        if status.phase == .unknown { status.phase = .ready }
        status.rack = node.rack.value
        status.services = installed.map(\.service).sorted()
        status.drifted = installed.filter { !$0.isHealthy }.map(\.service).sorted()
        let lastError = rekey ? Self.holdsPreviousKey : previous?.lastError
        try await store.record(status, lastError: lastError, for: node.name, at: now())
        if rekey { logger.info("agent holds the previous site key's node key", metadata: ["node": "\(node.name)"]) }
        return NodeObservation(error: nil, rekey: rekey)
    }

    /// The agent's answer lacked a report: not recorded as the node's error (the agent did answer).
    private struct MissingReport: Error {
        var text: String
    }

    /// Asks one agent for the node's inventory (or takes the heartbeat's) and the status of `names` it lacks, into
    /// `reports`; returns what went wrong (a `ServiceAgentError` or a `MissingReport`), nil when nothing did.
    private func ask(_ agent: any ServiceAgentDriver, _ node: Node, names: [String], heartbeat: NodeInventory?,
                     into reports: inout [String: ServiceReport]) async -> (any Error)?
    {
        var inventory = heartbeat
        if heartbeat == nil {
            do {
                inventory = try await agent.inventory(of: node.name).inventory
            } catch {
                return error
            }
        }
        for report in inventory?.services ?? [] { reports[report.service] = report }
        for name in names where reports[name] == nil {
            let definition = desired.service(named: name).map(ServiceDefinition.init)
            let answer: ServiceAnswer
            do {
                answer = try await agent.request(.status, node: node.name, service: name, definition: definition)
            } catch {
                return error
            }
            guard let report = answer.report else {
                return MissingReport(text: "status of \(name): \(answer.code.rawValue): \(answer.detail)")
            }
            reports[name] = report
        }
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
        case .rekeyAgent:
            try await rekey(node, agent: agent)
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
