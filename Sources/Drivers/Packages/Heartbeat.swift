import Logging
import MemberwiseInit

/// Sends the node's inventory to the reconciler every `interval`, as signed `heartbeat` requests.
///
/// A reconciler that is down or refuses a heartbeat only costs a log line; the next beat tries again.
@PublicMemberwiseInit
public struct Heartbeat: Sendable {
    let agent: ProvisioningAgent
    let client: ServiceAgentClient
    let node: String
    let interval: Duration
    let logger: Logger

    /// Beats until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            await beat()
            try? await Task.sleep(for: interval)
        }
    }

    /// Sends one heartbeat, signed with the agent's key of the moment (a `rekey` may have replaced it).
    public func beat() async {
        let inventory = await agent.inventory()
        let message = ServiceMessage.request(.heartbeat, node: node, service: "-", payload: [inventory.jsonText()])
        do {
            _ = try await client.with(key: await agent.key).send(message)
        } catch {
            logger.info("heartbeat not delivered", metadata: ["error.detail": "\(error)"])
        }
    }
}

/// The reconciler's end of heartbeats: checks each signature with the sending node's own agent key (derived from
/// the site key and the node the message names) and keeps the latest inventory of every node.
public actor HeartbeatReceiver {
    private var siteKey: SiteKey
    private var replay: ReplayGuard
    private let clock: @Sendable () -> Int64
    /// The last inventory each node sent, by node name.
    public private(set) var inventories: [String: NodeInventory] = [:]
    /// When each node's last heartbeat arrived (the clock's seconds).
    public private(set) var receivedAt: [String: Int64] = [:]

    public init(key: SiteKey, clock: @escaping @Sendable () -> Int64) {
        self.siteKey = key
        self.clock = clock
        self.replay = ReplayGuard(now: clock())
    }

    /// Checks heartbeats under `key` from now on (the site key changed: a rotation).
    public func use(key: SiteKey) { siteKey = key }

    /// Answers one frame: `ok` for an authentic heartbeat, `unauthorized` or `garbled` otherwise.
    public func answer(_ event: Result<ServiceMessage, ServiceMessageError>) -> ServiceMessage {
        let node = (try? event.get())?.node ?? "-"
        let authenticator = MessageAuthenticator(key: siteKey.agentKey(forNode: node))
        guard case .success(let message) = event else {
            let unknown = ServiceMessage.request(.heartbeat, node: "-", service: "-")
            return authenticator.sign(unknown.response(.garbled), timestamp: clock())
        }
        guard case .success(let verified) = authenticator.verify(message),
            replay.admit(timestamp: verified.timestamp, nonce: verified.nonce, now: clock()) == nil
        else {
            return authenticator.sign(message.response(.unauthorized), timestamp: clock())
        }
        let request = verified.message
        guard request.command == .heartbeat, let text = request.payload.first,
            let inventory = NodeInventory(jsonText: text), inventory.node == request.node
        else {
            return authenticator.sign(request.response(.garbled), timestamp: clock(), nonce: verified.nonce)
        }
        inventories[request.node] = inventory
        receivedAt[request.node] = clock()
        return authenticator.sign(request.response(.ok), timestamp: clock(), nonce: verified.nonce)
    }

    /// The inventories that arrived in the last `seconds`, with when (the clock's seconds): what a pass can use
    /// instead of asking the agents.
    public func recent(within seconds: Int64) -> [String: (inventory: NodeInventory, at: Int64)] {
        let now = clock()
        var recent: [String: (inventory: NodeInventory, at: Int64)] = [:]
        for (node, inventory) in inventories {
            guard let at = receivedAt[node], now - at <= seconds else { continue }
            recent[node] = (inventory, at)
        }
        return recent
    }
}
