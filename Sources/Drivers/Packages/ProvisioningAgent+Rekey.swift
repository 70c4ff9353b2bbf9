import Logging

/// Site key rotation on the node: a `rekey` request, signed with the agent's current key, hands it its next one.
///
/// The key file is authoritative. The next key is written beside it and renamed over it (temp file, fsync, rename,
/// mode 0600), and only then does the agent switch to it in memory: a crash or a failed write before the rename
/// leaves the current key in the file and in force, one after it leaves the next key in both (a restarted agent
/// reads it). There is no overlap: once switched, the agent refuses the key it replaced, so a rotation away from
/// a leaked key shuts the leaked key out at once. The `rekey` answer itself is signed with the replaced key, the
/// one its request was checked with, so the reconciler can tell it is the real agent's.
extension ProvisioningAgent {
    /// The key this agent checks requests with now.
    public var key: SiteKey { authenticator.key }

    /// Answers an authenticated `rekey` for this node (`nonce`: its signature's nonce, which the wrapping uses).
    func rekey(_ request: ServiceMessage, nonce: String) -> ServiceMessage {
        guard request.service == "-", request.payload.count == 1,
            let next = RekeyWrapping.unwrap(request.payload[0], under: authenticator.key, node: configuration.node,
                                            nonce: nonce)
        else {
            logger.warning("rekey refused: no well-formed next key", metadata: ["request.command": "rekey"])
            return request.response(.garbled, payload: ["rekey wants service '-' and one wrapped agent key"])
        }
        if next.matches(authenticator.key) { return request.response(.ok, payload: ["key unchanged"]) }
        if let file = configuration.keyFile {
            do {
                try AtomicFile.write(next.fileText, to: file, mode: 0o600)
            } catch {
                logger.error("rekey failed: the key file cannot be replaced; the current key stays",
                             metadata: ["error": "\(error)"])
                return request.response(.internalError, payload: ["cannot replace the key file: \(error)"])
            }
        }
        authenticator = MessageAuthenticator(key: next)
        logger.notice("agent key rotated; the previous key is refused from now on",
                      metadata: ["request.command": "rekey"])
        return request.response(.ok, payload: ["key rotated"])
    }
}