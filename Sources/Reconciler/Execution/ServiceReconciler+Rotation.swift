import Drivers
import Logging

/// Site key rotation, the reconciler's side: after the operator moves `agent.keyFile` to a new site key and names
/// the old one `agent.previousKeyFile`, a pass finds each installed node whose agent refuses its key from the new
/// site key, observes it under its key from the old one, and plans a `rekeyAgent` first among its actions. The
/// action is journaled like any other, so a dry run shows it and a restarted reconciler resumes it.
extension ServiceReconciler {
    /// The last error recorded for a node observed under its previous key, until its `rekeyAgent` is done: what
    /// `reconcile plan` reads to show the rekey the next pass will make.
    public static let holdsPreviousKey = "agent: holds its key from the previous site key (rekeyAgent planned)"

    /// The error of a node that refused both keys: what each attempt got.
    static func refusedBoth(_ current: ServiceAgentError, _ previous: ServiceAgentError) -> String {
        "the agent refused both site keys: under the node key from agent.keyFile: \(current.detail); "
            + "under the node key from agent.previousKeyFile: \(previous.detail)"
    }

    /// Hands the node's agent its key from the current site key. Idempotent: an agent that already answers the
    /// current key (a rekey whose answer was lost, a journal resumed after a restart) is done at once. Otherwise a
    /// `rekey` signed with the previous key's node key carries the new key, and the agent must then answer the new
    /// key. An agent that refuses both stalls the node, its error naming both attempts.
    func rekey(_ node: Node, agent: any ServiceAgentDriver) async throws {
        guard let current = try await refusal(agent, node) else {
            logger.info("agent already holds its key from the current site key", metadata: ["node": "\(node.name)"])
            return
        }
        guard let rotation = rotation(node) else {
            throw ActionFailure("the agent refuses its key from agent.keyFile (\(current.detail)) and no "
                                + "agent.previousKeyFile is set to hand it the new one", intent: .stalled)
        }
        var rekeyError: ServiceAgentError?
        do {
            try await rotation.rekey(node: node.name)
        } catch {
            rekeyError = error
        }
        if let rekeyError {
            guard rekeyError.code == .unauthorized else { throw rekeyError }
            throw ActionFailure(Self.refusedBoth(current, rekeyError), intent: .stalled)
        }
        if let refused = try await refusal(agent, node) {
            throw ActionFailure("the agent took the rekey but refuses its new key: \(refused.detail)",
                                intent: .stalled)
        }
        logger.notice("agent key rotated to the current site key's", metadata: ["node": "\(node.name)"])
    }

    /// Asks the agent for its inventory: nil when it answers, its refusal when it refuses the key; any other
    /// error (unreachable, busy) is thrown with its intent.
    private func refusal(_ agent: any ServiceAgentDriver, _ node: Node) async throws -> ServiceAgentError? {
        var failure: ServiceAgentError?
        do {
            _ = try await agent.inventory(of: node.name)
        } catch {
            failure = error
        }
        guard let failure else { return nil }
        guard failure.code == .unauthorized else { throw failure }
        return failure
    }
}
