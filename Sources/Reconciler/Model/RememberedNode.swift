import RackswarmCore

/// What the reconciler keeps of a node it provisioned, so that it can still reach the node's BMC and boot entry
/// after the node has left the repo (a decommission with `prune: true`). Never holds a secret: only the
/// reference to where the BMC password is.
public struct RememberedNode: Sendable, Hashable, Codable {
    public var name: String
    public var rack: String
    public var mac: MACAddress
    public var ip: IPv4Address
    public var bootLoader: Node.BootLoader
    public var bmc: BMCEndpoint
    public var bmcUsername: String?
    public var bmcPassword: SecretReference?
    public var insecureSkipVerify: Bool

    public init(_ node: Node) {
        name = node.name
        rack = node.rack.value
        mac = node.mac.value
        ip = node.ip.value
        bootLoader = node.bootLoader
        bmc = node.bmc.endpoint.value
        bmcUsername = node.bmc.username
        bmcPassword = node.bmc.password
        insecureSkipVerify = node.bmc.insecureSkipVerify
    }

    /// The node as far as decommissioning needs it: no image, no services. Locations point at the state store.
    public var node: Node {
        let here = SourceLocation(file: "state store (node left the repo)", line: 0, column: 0)
        return Node(
            name: name, location: here, labels: [:], rack: Located(rack, at: here), mac: Located(mac, at: here),
            ip: Located(ip, at: here),
            bmc: BMC(endpoint: Located(bmc, at: here), username: bmcUsername, password: bmcPassword,
                     insecureSkipVerify: insecureSkipVerify),
            bootLoader: bootLoader, image: Located("", at: here), services: [], state: .present)
    }
}
