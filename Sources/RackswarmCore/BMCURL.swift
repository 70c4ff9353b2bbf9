import Foundation

/// The BMC URL schemes rackswarm drives, each with its power driver in the registry (`PowerDriverRegistry.standard`
/// has exactly these) and in `schema/rackswarm.schema.json` (a test checks both).
public enum BMCScheme: String, Sendable, Hashable, Codable, CaseIterable {
    case ipmi
    case redfishHTTPS = "redfish+https"
    case redfishHTTP = "redfish+http"
    case ilo

    /// The port used when the URL names none.
    public var defaultPort: Int {
        switch self {
        case .ipmi: 623
        case .redfishHTTPS, .ilo: 443
        case .redfishHTTP: 80
        }
    }
}

/// The parts of a `scheme://host[:port][/path]` BMC URL: the one parser behind the site loader, the power-driver
/// registry and the CLI. IPv6 hosts go in brackets. Credentials never live in the URL: `user:pass@` is refused, and
/// no error repeats them.
public struct BMCURL: Sendable, Hashable {
    /// The scheme, lower-cased; whether a driver serves it is the caller's question (`BMCScheme`, the registry).
    public var scheme: String
    public var host: String
    public var port: Int?
    /// The rest after the host: empty, or starting with `/` (or `?`, `#`).
    public var path: String

    /// Why a text is not a BMC URL; its description never repeats credentials.
    public enum ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        case noScheme
        case invalidScheme
        case credentials
        /// A missing or malformed host, with what is wrong with it.
        case invalidHost(String)
        /// A port that is not a number from 1 to 65535, as written.
        case invalidPort(String)

        public var description: String {
            switch self {
            case .noScheme: "expected scheme://host[:port], e.g. ipmi://10.0.0.5"
            case .invalidScheme: "invalid URL scheme"
            case .credentials: "credentials do not belong in the BMC URL; use a secret reference"
            case .invalidHost(let why): why
            case .invalidPort(let text): "invalid port '\(text)'"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        guard let schemeEnd = text.range(of: "://") else {
            throw .noScheme
        }
        let scheme = text[..<schemeEnd.lowerBound]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else {
            throw .invalidScheme
        }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if authority.contains("@") {
            throw .credentials
        }
        var host = authority
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidHost("unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw .invalidHost("unexpected text after IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { throw .invalidHost("missing host") }
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw .invalidPort(String(portText))
            }
            port = value
        }
        self.scheme = scheme.lowercased()
        self.host = String(host)
        self.path = String(rest[authorityEnd...])
    }

    /// Drops anything between `://` and `@` so a mistyped URL with a password never reaches a message.
    public static func redacted(_ text: String) -> String {
        guard let start = text.range(of: "://"), let at = text[start.upperBound...].firstIndex(of: "@") else {
            return text
        }
        return String(text[..<start.upperBound]) + "***" + String(text[at...])
    }
}
