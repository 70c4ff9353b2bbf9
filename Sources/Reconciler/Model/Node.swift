import RackswarmCore

/// One physical machine: where it sits, how to reach its BMC, what it should run.
public struct Node: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case present
        case absent
    }

    public enum BootLoader: String, Sendable, Hashable, Codable, CaseIterable {
        case pxelinux
        case grub
        case ipxe
    }

    public var name: String
    public var location: SourceLocation
    public var labels: [String: String]
    public var rack: Located<String>
    public var mac: Located<MACAddress>
    public var ip: Located<IPv4Address>
    public var bmc: BMC
    public var bootLoader: BootLoader
    public var image: Located<String>
    public var services: [Located<String>]
    public var state: State

    public init(
        name: String, location: SourceLocation, labels: [String: String], rack: Located<String>,
        mac: Located<MACAddress>, ip: Located<IPv4Address>, bmc: BMC, bootLoader: BootLoader,
        image: Located<String>, services: [Located<String>], state: State
    ) {
        self.name = name
        self.location = location
        self.labels = labels
        self.rack = rack
        self.mac = mac
        self.ip = ip
        self.bmc = bmc
        self.bootLoader = bootLoader
        self.image = image
        self.services = services
        self.state = state
    }

    /// Service names, in the order written.
    public var serviceNames: [String] { services.map(\.value) }
}

/// A node's baseboard management controller. The URL scheme picks the power driver.
public struct BMC: Sendable, Hashable {
    public var endpoint: Located<BMCEndpoint>
    /// Nil until rack defaults are applied; the loader reports a node left without credentials.
    public var username: String?
    public var password: SecretReference?
    /// Skip TLS verification for a BMC with a self-signed certificate (Redfish/iLO only).
    public var insecureSkipVerify: Bool

    public init(endpoint: Located<BMCEndpoint>, username: String?, password: SecretReference?,
                insecureSkipVerify: Bool) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// A BMC address: `ipmi://host[:port]`, `redfish+https://host/redfish/v1/Systems/1`, `ilo://host`.
public struct BMCEndpoint: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The schemes with a power driver (RackswarmCore's `BMCScheme`).
    public typealias Scheme = BMCScheme

    public var scheme: Scheme
    public var host: String
    public var port: Int
    /// The Redfish system path; empty for IPMI.
    public var path: String

    public init(scheme: Scheme, host: String, port: Int, path: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
    }

    public var description: String {
        let portText = port == scheme.defaultPort ? "" : ":\(port)"
        return "\(scheme.rawValue)://\(host)\(portText)\(path)"
    }
}
