/// An RMCP+ cipher suite this client speaks (IPMI v2.0 table 22-20).
///
/// Suite 17 is ipmitool's default and what hardened BMCs keep: RAKP-HMAC-SHA256 authentication, HMAC-SHA256-128
/// integrity and AES-CBC-128 confidentiality. Suite 3 is the older RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128.
public enum IPMICipherSuite: Int, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case suite17 = 17
    case suite3 = 3

    /// Strongest first: the order a session tries them in.
    public static let strongestFirst: [IPMICipherSuite] = [.suite17, .suite3]

    public var description: String { "cipher suite \(rawValue)" }

    /// The authentication, integrity and confidentiality algorithm numbers of the Open Session Request.
    var algorithms: (authentication: UInt8, integrity: UInt8, confidentiality: UInt8) {
        switch self {
        case .suite17: (0x03, 0x04, 0x01)
        case .suite3: (0x01, 0x01, 0x01)
        }
    }

    /// The HMAC both the RAKP exchange and the integrity algorithm use.
    var digest: IPMICrypto.Digest {
        switch self {
        case .suite17: .sha256
        case .suite3: .sha1
        }
    }

    /// Length of the RAKP 2 and RAKP 3 key exchange AuthCodes: the whole HMAC.
    var rakpAuthCodeSize: Int { digest.size }

    /// Length of the RAKP 4 integrity check value and of every session packet's AuthCode.
    var integrityCheckSize: Int {
        switch self {
        case .suite17: 16
        case .suite3: 12
        }
    }
}
