import Drivers
import DriversTesting
import Foundation
import LabSupport
import Logging
import Testing

/// The agent's side of site key rotation, in process: a `rekey` signed with the agent's key replaces it (file
/// and memory, no overlap), and every forged, replayed or tampered one changes nothing.
struct AgentRekeyTests {
    static let oldSite = SiteKey(bytes: Array("rekey-tests-old-site-key-0001".utf8))!
    static let newSite = SiteKey(bytes: Array("rekey-tests-new-site-key-0002".utf8))!
    static let now: Int64 = 50_000

    /// n1's agent with its key (from `oldSite`) in `agent.key` under `directory`, and its keys from the old and the
    /// new site key.
    static func n1Agent(in directory: TemporaryDirectory) throws
        -> (keyFile: String, agent: ProvisioningAgent, old: SiteKey, new: SiteKey)
    {
        let keyFile = directory.path + "/agent.key"
        return (keyFile, try agent("n1", keyFile: keyFile), oldSite.agentKey(forNode: "n1"),
                newSite.agentKey(forNode: "n1"))
    }

    /// An agent for `node` holding its key from `oldSite`, with that key in `keyFile`.
    static func agent(_ node: String, keyFile: String?, write: Bool = true) throws -> ProvisioningAgent {
        if let keyFile, write {
            try (oldSite.agentKeyText(forNode: node) + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        }
        let processes = FakeProcessTable()
        return ProvisioningAgent(
            configuration: .init(node: node, keyFile: keyFile), key: oldSite.agentKey(forNode: node),
            installer: FakePackageInstaller(), processes: processes, runner: FakeCommandRunner(processes: processes),
            logger: Logger(label: "test.rekey"), clock: { now })
    }

    /// A `rekey` for `node`, signed with `signer`, carrying `next` wrapped under `wrapKey` (the signer unless
    /// given).
    static func rekey(_ node: String, next: SiteKey, signer: SiteKey, wrapKey: SiteKey? = nil, nonce: String? = nil)
        throws -> ServiceMessage
    {
        let nonce = nonce ?? MessageAuthenticator.freshNonce()
        let wrapped = try #require(RekeyWrapping.wrap(next, under: wrapKey ?? signer, node: node, nonce: nonce))
        return MessageAuthenticator(key: signer).sign(.request(.rekey, node: node, service: "-", payload: [wrapped]),
                                                      timestamp: now, nonce: nonce)
    }

    /// The code of an inventory request signed with `key`.
    static func inventoryCode(_ agent: ProvisioningAgent, node: String, key: SiteKey) async -> ResponseCode? {
        let request = MessageAuthenticator(key: key).sign(.request(.inventory, node: node, service: "-"),
                                                          timestamp: now)
        return await agent.answer(.success(request)).code
    }

    static func fileText(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @Test func wrappingIsBoundToKeyNodeAndNonce() throws {
        let next = Self.newSite.agentKey(forNode: "n1")
        let current = Self.oldSite.agentKey(forNode: "n1")
        let nonce = MessageAuthenticator.freshNonce()
        let wrapped = try #require(RekeyWrapping.wrap(next, under: current, node: "n1", nonce: nonce))
        #expect(!wrapped.contains(Self.newSite.agentKeyText(forNode: "n1")))
        #expect(RekeyWrapping.unwrap(wrapped, under: current, node: "n1", nonce: nonce)?.matches(next) == true)
        #expect(RekeyWrapping.unwrap(wrapped, under: Self.newSite.agentKey(forNode: "n1"), node: "n1",
                                     nonce: nonce) == nil)
        #expect(RekeyWrapping.unwrap(wrapped, under: current, node: "n2", nonce: nonce) == nil)
        #expect(RekeyWrapping.unwrap(wrapped, under: current, node: "n1",
                                     nonce: MessageAuthenticator.freshNonce()) == nil)
        // Only an agent key's text (64 hex digits) is ever sent: a site key is refused.
        #expect(RekeyWrapping.wrap(Self.newSite, under: current, node: "n1", nonce: nonce) == nil)
    }

    @Test func rekeyReplacesTheKeyFileAndTheOldKeyIsRefused() async throws {
        let directory = try TemporaryDirectory("rs-rekey")
        let (keyFile, agent, old, new) = try Self.n1Agent(in: directory)
        #expect(await Self.inventoryCode(agent, node: "n1", key: new) == .unauthorized)

        let answer = await agent.answer(.success(try Self.rekey("n1", next: new, signer: old)))
        #expect(answer.code == .ok, "\(answer.payload)")
        // The answer is signed with the key the request came under: the reconciler can check it.
        #expect((try? MessageAuthenticator(key: old).verify(answer).get()) != nil)
        #expect(Self.fileText(keyFile) == Self.newSite.agentKeyText(forNode: "n1") + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(await agent.key.matches(new))
        #expect(await Self.inventoryCode(agent, node: "n1", key: new) == .ok)
        #expect(await Self.inventoryCode(agent, node: "n1", key: old) == .unauthorized)
        // No temp file is left beside the key.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["agent.key"])
        // A second rekey to the same key (a retry whose first answer was lost) is a no-op, under the new key.
        let again = await agent.answer(.success(try Self.rekey("n1", next: new, signer: new)))
        #expect(again.code == .ok && again.payload.first == "key unchanged")
    }

    @Test func forgedReplayedAndTamperedRekeysChangeNothing() async throws {
        let directory = try TemporaryDirectory("rs-rekey")
        let (keyFile, agent, old, next) = try Self.n1Agent(in: directory)
        let before = Self.fileText(keyFile)

        // Signed with another node's key (n2's, from the same site key), or with the new key, or the site key.
        for signer in [Self.oldSite.agentKey(forNode: "n2"), next, Self.oldSite] {
            let answer = await agent.answer(.success(try Self.rekey("n1", next: next, signer: signer)))
            #expect(answer.code == .unauthorized)
        }
        // The right key, but for another node: wrong-node, nothing written.
        let elsewhere = await agent.answer(.success(try Self.rekey("n2", next: next, signer: old)))
        #expect(elsewhere.code == .wrongNode)
        // The wrapped key altered on the way: the signature no longer checks.
        var tampered = try Self.rekey("n1", next: next, signer: old)
        tampered.payload[0] = String(tampered.payload[0].reversed())
        #expect(await agent.answer(.success(tampered)).code == .unauthorized)
        // Signed with the right key but wrapped under another: it does not unwrap to a key.
        let misWrapped = try Self.rekey("n1", next: next, signer: old, wrapKey: next)
        #expect(await agent.answer(.success(misWrapped)).code == .garbled)
        #expect(Self.fileText(keyFile) == before)
        #expect(await Self.inventoryCode(agent, node: "n1", key: old) == .ok)

        // A captured real rekey cannot be played again (to roll a later key back, say): its nonce is spent and
        // its key is no longer the agent's.
        let genuine = try Self.rekey("n1", next: next, signer: old)
        #expect(await agent.answer(.success(genuine)).code == .ok)
        #expect(await agent.answer(.success(genuine)).code == .unauthorized)
        #expect(Self.fileText(keyFile) == Self.newSite.agentKeyText(forNode: "n1") + "\n")
    }

    @Test func aKeyFileThatCannotBeReplacedKeepsTheCurrentKey() async throws {
        let directory = try TemporaryDirectory("rs-rekey")
        // The key file's directory is a regular file: the write fails, as on a full or read-only disk.
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: directory.path + "/etc"))
        let agent = try Self.agent("n1", keyFile: directory.path + "/etc/agent.key", write: false)
        let old = Self.oldSite.agentKey(forNode: "n1")
        let new = Self.newSite.agentKey(forNode: "n1")
        let answer = await agent.answer(.success(try Self.rekey("n1", next: new, signer: old)))
        #expect(answer.code == .internalError)
        #expect(await Self.inventoryCode(agent, node: "n1", key: old) == .ok)
        #expect(await Self.inventoryCode(agent, node: "n1", key: new) == .unauthorized)
    }
}
