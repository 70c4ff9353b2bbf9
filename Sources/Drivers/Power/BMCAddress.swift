import Foundation
import Logging
import MemberwiseInit

/// Where a BMC is and how to talk to it: the parts of a `scheme://host[:port][/path]` URL a driver needs.
///
/// Credentials never live in the URL; `user:pass@` is refused so a password cannot leak through a log line.
public struct BMCAddress: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int?
    /// The path after the host, empty or starting with `/`.
    public let path: String

    public init(scheme: String, host: String, port: Int? = nil, path: String = "") {
        self.scheme = scheme.lowercased()
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses `scheme://host[:port][/path]` with the one BMC URL parser (`BMCURL`); IPv6 hosts go in brackets.
    public init(parsing text: String) throws(PowerError) {
        do {
            let url = try BMCURL(parsing: text)
            self.init(scheme: url.scheme, host: url.host, port: url.port, path: url.path)
        } catch {
            throw PowerError(.invalidAddress, bmc: BMCURL.redacted(text), error.description)
        }
    }

    /// `scheme://host[:port]`, the form used in logs and errors.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return port.map { "\(scheme)://\(shownHost):\($0)" } ?? "\(scheme)://\(shownHost)"
    }
}

/// Everything a driver needs to reach one BMC: address, user, secret and call policy.
@PublicMemberwiseInit
public struct BMCConfiguration: Sendable {
    public var address: BMCAddress
    public var username: String
    /// The password; never printed (see `description`).
    public var password: String
    /// Skips TLS certificate verification (self-signed BMCs); off unless a node opts out explicitly.
    public var insecureSkipVerify: Bool = false
    /// The time allowed for one request/response exchange before a retransmit or retry.
    public var timeout: Duration = .seconds(1)
    /// How many times an exchange is retried after a timeout or a transient failure.
    public var retries: Int = 3
    /// The IPMI cipher suites a session may use, tried in this order (a site that forbids suite 3 gives `[17]`).
    public var cipherSuites: [IPMICipherSuite] = IPMICipherSuite.strongestFirst
}

extension BMCConfiguration: CustomStringConvertible {
    public var description: String { "\(address) user=\(username) password=<redacted>" }

    /// `logger` with this BMC as `bmc.address` (scheme, host and port; never the credentials), for a driver's lines.
    public func labelling(_ logger: Logger) -> Logger {
        var logger = logger
        logger[metadataKey: "bmc.address"] = "\(address)"
        return logger
    }
}
