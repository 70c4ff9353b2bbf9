import COpenSSL

/// Keys derived from the site key with HKDF-SHA256 (RFC 5869), so the site key itself never leaves the reconciler.
///
/// - Each node's agent key: `HKDF(salt: "rackswarm-agent-key-v1", ikm: site key, info: "node:" + name)`, 32 bytes,
///   used as its 64 lower-case hex characters (the text the node's `agent.key` file holds). A node holding its
///   own key can sign requests to itself only: node B checks with B's key, which A cannot compute.
/// - The install-token key: `info: "install-token"`, which signs the one-time tokens of install entries.
extension SiteKey {
    static let derivationSalt = Array("rackswarm-agent-key-v1".utf8)

    /// HKDF-SHA256 of this key for `info`, with the fixed salt: 32 bytes.
    func derive(info: String) -> [UInt8] {
        Self.hkdf(ikm: bytes, salt: Self.derivationSalt, info: Array(info.utf8), length: 32)
    }

    /// RFC 5869 HKDF with SHA-256: extract a pseudorandom key from `ikm` under `salt`, expand it with `info` to
    /// `length` bytes (at most 255 blocks of 32).
    static func hkdf(ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int) -> [UInt8] {
        let pseudorandom = hmac(key: salt, ikm)
        var output: [UInt8] = []
        var block: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < min(length, 255 * 32) {
            block = hmac(key: pseudorandom, block + info + [counter])
            output += block
            counter &+= 1
        }
        return Array(output.prefix(length))
    }

    /// The key node `node`'s agent holds: what `agentKeyText(forNode:)` says, as the agent reads it.
    public func agentKey(forNode node: String) -> SiteKey {
        // 64 hex characters: always at least `minimumLength` bytes.
        SiteKey(unchecked: Array(agentKeyText(forNode: node).utf8))
    }

    /// The text of node `node`'s agent key file: 64 lower-case hex characters of its HKDF-derived key.
    public func agentKeyText(forNode node: String) -> String {
        hex(derive(info: "node:" + node))
    }

    /// The key that signs install tokens (never given to a node).
    public var installTokenKey: SiteKey { SiteKey(unchecked: derive(info: "install-token")) }

    init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// HMAC-SHA256 of `message` under `key`.
    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = key.withUnsafeBufferPointer { key in
            message.withUnsafeBufferPointer { data in
                HMAC(EVP_sha256(), key.baseAddress, Int32(key.count), data.baseAddress, data.count, &out, &length)
            }
        }
        guard ok != nil else { return [] }
        return Array(out.prefix(Int(length)))
    }
}
