import MemberwiseInit

/// One service request or response in the paper's format (its Figure 4).
///
/// On the wire: `||TYPE||CLASS||COMMAND||CODE||MESSAGE0||MESSAGE1||MESSAGE2||…||eom`, e.g.
/// `||req||provisioning||install||null||node17||web||eom`. MESSAGE0 is the node, MESSAGE1 the service and
/// MESSAGE2… free text (`payload`). The grammar and its escaping are in `docs/service-protocol.md`.
public struct ServiceMessage: Sendable, Hashable {
    /// TYPE: a request from the reconciler or the agent's response.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case request = "req"
        case response = "res"
    }

    /// The only CLASS this protocol knows.
    public static let provisioningClass = "provisioning"

    public var kind: Kind
    /// CLASS; always `provisioning` once parsed.
    public var messageClass: String
    public var command: ServiceCommand
    /// CODE: `null` (nil) in a request, `ok` or an error code in a response.
    public var code: ResponseCode?
    /// MESSAGE0: the node name, e.g. `node17`.
    public var node: String
    /// MESSAGE1: the service name, e.g. `web`; `-` when a command is about no service (inventory).
    public var service: String
    /// MESSAGE2…: free text fields.
    public var payload: [String]

    public init(
        kind: Kind, command: ServiceCommand, code: ResponseCode? = nil, node: String, service: String,
        payload: [String] = [], messageClass: String = ServiceMessage.provisioningClass
    ) {
        self.kind = kind
        self.messageClass = messageClass
        self.command = command
        self.code = code
        self.node = node
        self.service = service
        self.payload = payload
    }

    /// A request: CODE is `null`.
    public static func request(
        _ command: ServiceCommand, node: String, service: String, payload: [String] = []
    ) -> ServiceMessage {
        ServiceMessage(kind: .request, command: command, node: node, service: service, payload: payload)
    }

    /// The response to this request: same CLASS, COMMAND, node and service; TYPE `res` and the given CODE.
    public func response(_ code: ResponseCode, payload: [String] = []) -> ServiceMessage {
        ServiceMessage(
            kind: .response, command: command, code: code, node: node, service: service, payload: payload,
            messageClass: messageClass)
    }

    /// Every field between the leading `||` and `eom`, unescaped, in wire order.
    public var fields: [String] {
        [kind.rawValue, messageClass, command.rawValue, code?.rawValue ?? "null", node, service] + payload
    }
}

/// COMMAND: what the reconciler asks of a node's agent.
///
/// A struct rather than an enum so that a well-formed request with a command this agent does not know still
/// parses and gets the answer `unknown-command` instead of a garbled-message error.
@PublicMemberwiseInit
public struct ServiceCommand: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    /// Install the service's RPMs in order, run their start scripts, check their processes.
    public static let install = ServiceCommand(rawValue: "install")
    /// Stop the processes and remove the RPMs in reverse install order.
    public static let uninstall = ServiceCommand(rawValue: "uninstall")
    /// Report what of the service is installed and running.
    public static let status = ServiceCommand(rawValue: "status")
    /// Run the stop then the start scripts and check the processes again.
    public static let restart = ServiceCommand(rawValue: "restart")
    /// Report every service the agent knows, every installed RPM and the live processes.
    public static let inventory = ServiceCommand(rawValue: "inventory")
    /// Sent by an agent to the reconciler: I am alive, here is my inventory.
    public static let heartbeat = ServiceCommand(rawValue: "heartbeat")
    /// Site key rotation: signed with the node's current key, carries its next key (wrapped under the current
    /// one); the agent stores it and accepts only the next key from then on.
    public static let rekey = ServiceCommand(rawValue: "rekey")

    /// The commands this version of the protocol defines.
    public static let known: [ServiceCommand] = [
        .install, .uninstall, .status, .restart, .inventory, .heartbeat, .rekey,
    ]

    public var isKnown: Bool { Self.known.contains(self) }
    public var description: String { rawValue }

    /// True for a command token: 1–32 of `a-z`, `0-9` and `-`.
    public static func isValidToken(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return !bytes.isEmpty && bytes.count <= 32
            && bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }
}

/// CODE of a response: `ok` or what went wrong; details go in MESSAGE2.
public enum ResponseCode: String, Sendable, Hashable, CaseIterable, Codable {
    case ok
    /// The agent has no software list for the service (none sent, none recorded).
    case unknownService = "unknown-service"
    /// dnf/yum failed on an RPM (missing package, broken dependency, dnf crash); MESSAGE2 has dnf's text.
    case rpmFailed = "rpm-failed"
    /// A start or stop script exited non-zero or timed out.
    case scriptFailed = "script-failed"
    /// A named process is not alive after its start script ran (or has died since).
    case processNotRunning = "process-not-running"
    /// `status`: some RPM of the service is not installed (never was, or removed by hand).
    case notInstalled = "not-installed"
    /// Another install/uninstall/restart is running on this node; try again later.
    case busy
    /// Missing, forged, stale or replayed authentication; nothing ran.
    case unauthorized
    /// The request could not be parsed; nothing ran.
    case garbled
    /// The COMMAND is not one this agent knows.
    case unknownCommand = "unknown-command"
    /// MESSAGE0 names another node.
    case wrongNode = "wrong-node"
    /// The agent itself failed (e.g. cannot write its state directory).
    case internalError = "internal-error"
}
