import MemberwiseInit

/// The next agent key as a `rekey` request carries it: never in the clear on the wire.
///
/// The next key is the 64 hex characters a node's `agent.key` holds. It travels XORed with a pad of 64 bytes,
/// `HKDF(salt: "rackswarm-rekey-v1", ikm: current key, info: "rekey:" NODE ":" NONCE)`, where NONCE is the
/// request's own signature nonce (fresh for every request, so no pad is used twice). Only a holder of the current
/// key can unwrap it; the request's HMAC, under the same current key, covers the wrapped text, so it cannot be
/// altered either.
public enum RekeyWrapping {
    static let salt = Array("rackswarm-rekey-v1".utf8)
    /// Length of an agent key's text: 32 bytes as lower-case hex.
    public static let keyTextLength = 64

    /// The wrapped next key (128 hex digits) for `node`, under `current`, bound to the request nonce `nonce`.
    public static func wrap(_ next: SiteKey, under current: SiteKey, node: String, nonce: String) -> String? {
        guard isAgentKeyText(next.bytes) else { return nil }
        return hex(zip(next.bytes, pad(current, node: node, nonce: nonce)).map { $0 ^ $1 })
    }

    /// The next key from its wrapped text; nil unless it unwraps to 64 lower-case hex characters.
    public static func unwrap(_ wrapped: String, under current: SiteKey, node: String, nonce: String) -> SiteKey? {
        guard let bytes = unhex(Substring(wrapped)), bytes.count == keyTextLength else { return nil }
        let next = zip(bytes, pad(current, node: node, nonce: nonce)).map { $0 ^ $1 }
        guard isAgentKeyText(next) else { return nil }
        return SiteKey(unchecked: next)
    }

    private static func pad(_ key: SiteKey, node: String, nonce: String) -> [UInt8] {
        SiteKey.hkdf(ikm: key.bytes, salt: salt, info: Array("rekey:\(node):\(nonce)".utf8), length: keyTextLength)
    }

    /// True for 64 lower-case hex characters: what `SiteKey.agentKeyText(forNode:)` makes.
    static func isAgentKeyText(_ bytes: [UInt8]) -> Bool {
        bytes.count == keyTextLength && bytes.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

extension SiteKey {
    /// True when both keys hold the same bytes (constant time).
    public func matches(_ other: SiteKey) -> Bool { constantTimeEqual(bytes, other.bytes) }

    /// The key as its file holds it (an agent key's 64 hex characters), with a final LF.
    var fileText: [UInt8] { bytes + [10] }
}

/// One node's agent during a site key rotation, as the reconciler reaches it with the previous site key.
public protocol AgentKeyRotating: Sendable {
    /// The agent, asked under the node's key from the previous site key (what it holds until its `rekey`).
    var previous: any ServiceAgentDriver { get }
    /// Sends `rekey` signed with the previous key, carrying the node's key from the current site key; returns
    /// once the agent took it.
    func rekey(node: String) async throws(ServiceAgentError)
}

/// `AgentKeyRotating` over the service protocol: a client under the previous node key, and the next node key.
@PublicMemberwiseInit
public struct AgentKeyRotation: AgentKeyRotating {
    let client: ServiceAgentClient
    let next: SiteKey

    public var previous: any ServiceAgentDriver { client }

    public func rekey(node: String) async throws(ServiceAgentError) {
        try await client.rekey(node: node, to: next)
    }
}
