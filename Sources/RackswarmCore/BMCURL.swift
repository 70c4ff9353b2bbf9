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

    /// Parses `text` with a scan of its UTF-8 bytes: the loader runs this once per node, so it stays free of
    /// `Character` properties and Foundation's generic string search.
    public init(parsing text: String) throws(ParseError) {
        let bytes = Array(text.utf8)
        guard let schemeEnd = Self.firstSchemeSeparator(in: bytes) else {
            throw .noScheme
        }
        let scheme = bytes[..<schemeEnd]
        guard !scheme.isEmpty, Self.isSchemeText(scheme) else {
            throw .invalidScheme
        }
        let restStart = schemeEnd + 3
        let authorityEnd = bytes[restStart...].firstIndex(where: URLByte.endsAuthority) ?? bytes.endIndex
        let authority = bytes[restStart..<authorityEnd]
        if authority.contains(URLByte.at) {
            throw .credentials
        }
        var host = authority
        var portText: ArraySlice<UInt8>?
        if authority.first == URLByte.openBracket {
            guard let close = authority.firstIndex(of: URLByte.closeBracket) else {
                throw .invalidHost("unterminated IPv6 address")
            }
            host = authority[(authority.startIndex + 1)..<close]
            let after = authority[(close + 1)...]
            if after.first == URLByte.colon {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw .invalidHost("unexpected text after IPv6 address")
            }
        } else if let lastColon = authority.lastIndex(of: URLByte.colon) {
            host = authority[..<lastColon]
            portText = authority[(lastColon + 1)...]
        }
        guard !host.isEmpty else { throw .invalidHost("missing host") }
        if let portText {
            guard let value = Self.port(portText) else {
                throw .invalidPort(String(decoding: portText, as: UTF8.self))
            }
            port = value
        }
        self.scheme = Self.lowercased(scheme)
        self.host = String(decoding: host, as: UTF8.self)
        self.path = String(decoding: bytes[authorityEnd...], as: UTF8.self)
    }

    /// The offset of the first `://`.
    private static func firstSchemeSeparator(in bytes: [UInt8]) -> Int? {
        var index = 0
        while index + 2 < bytes.count {
            if bytes[index] == URLByte.colon && bytes[index + 1] == URLByte.slash && bytes[index + 2] == URLByte.slash {
                return index
            }
            index += 1
        }
        return nil
    }

    /// Letters, digits and `+-.`; text beyond ASCII is judged by its characters.
    private static func isSchemeText(_ scheme: ArraySlice<UInt8>) -> Bool {
        if scheme.allSatisfy({ $0 < 0x80 }) {
            return scheme.allSatisfy { isASCIILetterOrDigit($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E }
        }
        return String(decoding: scheme, as: UTF8.self).allSatisfy { $0.isLetter || $0.isNumber || "+-.".contains($0) }
    }

    private static func isASCIILetterOrDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
    }

    private static func lowercased(_ scheme: ArraySlice<UInt8>) -> String {
        guard scheme.allSatisfy({ $0 < 0x80 }) else { return String(decoding: scheme, as: UTF8.self).lowercased() }
        return String(decoding: scheme.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    /// A port from 1 to 65535, written as decimal digits after an optional sign (as `Int(_:)` reads it).
    private static func port(_ text: ArraySlice<UInt8>) -> Int? {
        var digits = text
        var negative = false
        if let sign = digits.first, sign == 0x2B || sign == 0x2D {
            negative = sign == 0x2D
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
            guard value <= 65535 else { return nil }
        }
        guard !negative, value >= 1 else { return nil }
        return value
    }

    /// Drops anything between `://` and `@` so a mistyped URL with a password never reaches a message.
    public static func redacted(_ text: String) -> String {
        guard let start = text.range(of: "://"), let at = text[start.upperBound...].firstIndex(of: "@") else {
            return text
        }
        return String(text[..<start.upperBound]) + "***" + String(text[at...])
    }
}

/// The ASCII bytes the BMC URL parser splits on.
private enum URLByte {
    static let colon = UInt8(ascii: ":")
    static let slash = UInt8(ascii: "/")
    static let question = UInt8(ascii: "?")
    static let hash = UInt8(ascii: "#")
    static let at = UInt8(ascii: "@")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")

    /// `/`, `?` or `#`: the end of the authority.
    static func endsAuthority(_ byte: UInt8) -> Bool { byte == slash || byte == question || byte == hash }
}
