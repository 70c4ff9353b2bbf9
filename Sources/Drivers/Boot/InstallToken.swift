/// The one-time token of one install: it goes into the node's install entry (`rackswarm.token=`), and the install
/// environment must show it (`Authorization: Bearer …`) to get its instructions and to report.
///
/// A token is `HMAC-SHA256(install-token key, "rackswarm-install-token-v1\nNODE\nNONCE")` in hex, where the nonce is
/// drawn fresh when an install entry is written for a new install and kept (in the boot manifest, which holds no
/// secret) while the same install's entry is rewritten. Bound to the node by its name and to the install by its
/// nonce; dead once the node's entry leaves install mode (the `rebooting` report, `bootLocal`, removal), since the
/// nonce goes with it.
public struct InstallTokenMinter: Sendable {
    private let key: SiteKey

    /// Tokens under `siteKey`'s install-token key (HKDF-derived: the site key itself signs nothing here).
    public init(siteKey: SiteKey) {
        self.key = siteKey.installTokenKey
    }

    /// The token of `node`'s install `nonce`: 64 lower-case hex characters.
    public func token(node: String, nonce: String) -> String {
        hex(key.mac(Array("rackswarm-install-token-v1\n\(node)\n\(nonce)".utf8)))
    }

    /// A fresh install nonce: 32 hex characters.
    public static func freshNonce() -> String { hex(randomBytes(16)) }

    /// True when `presented` is `expected`, compared in constant time.
    public static func matches(_ presented: String, _ expected: String) -> Bool {
        constantTimeEqual(Array(presented.utf8), Array(expected.utf8))
    }

    /// The kernel argument that carries a token.
    public static func argument(_ token: String) -> String { "rackswarm.token=\(token)" }
}
