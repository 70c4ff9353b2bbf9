import MemberwiseInit
import RackswarmCore

/// One physical machine: where it sits, how to reach its BMC, what it should run.
@PublicMemberwiseInit
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

    /// Service names, in the order written.
    public var serviceNames: [String] { services.map(\.value) }
}

/// A node's baseboard management controller. The URL scheme picks the power driver.
@PublicMemberwiseInit
public struct BMC: Sendable, Hashable {
    public var endpoint: Located<BMCEndpoint>
    /// Nil until rack defaults are applied; the loader reports a node left without credentials.
    public var username: String?
    public var password: SecretReference?
    /// Skip TLS verification for a BMC with a self-signed certificate (Redfish/iLO only).
    public var insecureSkipVerify: Bool
}

/// A BMC address: `ipmi://host[:port]`, `redfish+https://host/redfish/v1/Systems/1`, `ilo://host`.
@PublicMemberwiseInit
public struct BMCEndpoint: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The schemes with a power driver (RackswarmCore's `BMCScheme`).
    public typealias Scheme = BMCScheme

    public var scheme: Scheme
    public var host: String
    public var port: Int
    /// The Redfish system path; empty for IPMI.
    public var path: String

    public var description: String {
        let portText = port == scheme.defaultPort ? "" : ":\(port)"
        return "\(scheme.rawValue)://\(host)\(portText)\(path)"
    }
}
