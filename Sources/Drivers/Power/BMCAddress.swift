import Foundation

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

    /// Parses `scheme://host[:port][/path]`; IPv6 hosts go in brackets.
    public init(parsing text: String) throws(PowerError) {
        let shown = Self.redacted(text)
        guard let schemeEnd = text.range(of: "://") else {
            throw PowerError(.invalidAddress, bmc: shown, "expected scheme://host[:port], e.g. ipmi://10.0.0.5")
        }
        let scheme = String(text[..<schemeEnd.lowerBound])
        let rest = text[schemeEnd.upperBound...]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else {
            throw PowerError(.invalidAddress, bmc: shown, "invalid URL scheme")
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let path = String(rest[authorityEnd...])
        if authority.contains("@") {
            throw PowerError(
                .invalidAddress, bmc: shown, "credentials do not belong in the BMC URL; use a secret reference")
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw PowerError(.invalidAddress, bmc: shown, "unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw PowerError(.invalidAddress, bmc: shown, "unexpected text after IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw PowerError(.invalidAddress, bmc: shown, "missing host") }
        var port: Int?
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw PowerError(.invalidAddress, bmc: shown, "invalid port '\(portText)'")
            }
            port = value
        }
        self.init(scheme: scheme, host: String(host), port: port, path: path)
    }

    /// `scheme://host[:port]`, the form used in logs and errors.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return port.map { "\(scheme)://\(shownHost):\($0)" } ?? "\(scheme)://\(shownHost)"
    }

    /// Drops anything between `://` and `@` so a mistyped URL with a password never reaches a message.
    static func redacted(_ text: String) -> String {
        guard let start = text.range(of: "://"), let at = text[start.upperBound...].firstIndex(of: "@") else {
            return text
        }
        return String(text[..<start.upperBound]) + "***" + String(text[at...])
    }
}

/// Everything a driver needs to reach one BMC: address, user, secret and call policy.
public struct BMCConfiguration: Sendable {
    public var address: BMCAddress
    public var username: String
    /// The password; never printed (see `description`).
    public var password: String
    /// Skips TLS certificate verification (self-signed BMCs); off unless a node opts out explicitly.
    public var insecureSkipVerify: Bool
    /// The time allowed for one request/response exchange before a retransmit or retry.
    public var timeout: Duration
    /// How many times an exchange is retried after a timeout or a transient failure.
    public var retries: Int
    /// The IPMI cipher suites a session may use, tried in this order (a site that forbids suite 3 gives `[17]`).
    public var cipherSuites: [IPMICipherSuite]

    public init(
        address: BMCAddress, username: String, password: String, insecureSkipVerify: Bool = false,
        timeout: Duration = .seconds(1), retries: Int = 3,
        cipherSuites: [IPMICipherSuite] = IPMICipherSuite.strongestFirst
    ) {
        self.cipherSuites = cipherSuites
        self.address = address
        self.username = username
        self.password = password
        self.insecureSkipVerify = insecureSkipVerify
        self.timeout = timeout
        self.retries = retries
    }
}

extension BMCConfiguration: CustomStringConvertible {
    public var description: String { "\(address) user=\(username) password=<redacted>" }
}
