import Drivers
import DriversTesting
import Foundation
import Logging
import Testing

/// A node holding the key can sign any timestamp: the extremes of Int64 must be refused as stale by the agent
/// and by the reconciler's heartbeat listener, over real TCP, and both must keep answering afterwards.
struct TimestampExtremesTests {
    static let key = SiteKey(bytes: Array("timestamp-extremes-site-key".utf8))!
    static let extremes: [Int64] = [.min, .min + 1, -1, 0, .max, .max - 1, 1 << 62, -(1 << 62)]

    /// Runs `handler` behind the real `ServiceAgentServer` on loopback and gives `body` its port.
    static func serving(
        _ handler: @escaping @Sendable (Result<ServiceMessage, ServiceMessageError>) async -> ServiceMessage,
        _ body: (Int) async throws -> Void
    ) async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = ServiceAgentServer(
            address: AgentAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "test.extremes"),
            handler: handler)
        let task = Task { try await server.run { continuation.yield($0) } }
        defer { task.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body(port)
    }

    static func client(port: Int, key: SiteKey = key, clock: @escaping @Sendable () -> Int64) -> ServiceAgentClient {
        ServiceAgentClient(address: AgentAddress(host: "127.0.0.1", port: port), key: key, timeout: .seconds(10),
                           logger: Logger(label: "test.extremes"), clock: clock)
    }

    @Test func heartbeatListenerRefusesExtremeTimestamps() async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let receiver = HeartbeatReceiver(key: Self.key, clock: { now })
        try await Self.serving({ await receiver.answer($0) }) { port in
            let inventory = NodeInventory(node: "n1", services: [], packages: [], takenAt: now)
            let beat = ServiceMessage.request(.heartbeat, node: "n1", service: "-", payload: [inventory.jsonText()])
            // A node signs its heartbeats with its own key.
            let nodeKey = Self.key.agentKey(forNode: "n1")
            for stamp in Self.extremes {
                await #expect(throws: ServiceAgentError.self) {
                    _ = try await Self.client(port: port, key: nodeKey, clock: { stamp }).send(beat)
                }
            }
            #expect(await receiver.inventories.isEmpty)
            // Still up, and a fresh heartbeat is taken.
            let answer = try await Self.client(port: port, key: nodeKey, clock: { now }).send(beat)
            #expect(answer.code == .ok)
            #expect(await receiver.inventories["n1"] != nil)
        }
    }

    @Test func agentRefusesExtremeTimestamps() async throws {
        let processes = FakeProcessTable()
        let agent = ProvisioningAgent(
            configuration: .init(node: "n1"), key: Self.key, installer: FakePackageInstaller(),
            processes: processes, runner: FakeCommandRunner(processes: processes),
            logger: Logger(label: "test.extremes"), clock: { 50_000 })
        try await Self.serving({ await agent.answer($0) }) { port in
            for stamp in Self.extremes {
                await #expect(throws: ServiceAgentError.self, "timestamp \(stamp) was accepted") {
                    _ = try await Self.client(port: port, clock: { stamp }).inventory(of: "n1")
                }
            }
            let answer = try await Self.client(port: port, clock: { 50_000 }).inventory(of: "n1")
            #expect(answer.code == .ok)
        }
    }

    @Test func replayGuardAtTheExtremes() {
        var guardian = ReplayGuard(window: .seconds(300), now: .min)
        for (index, stamp) in Self.extremes.enumerated() {
            for now in [Int64.min, 0, .max] {
                let fresh = (Int128(now) - Int128(stamp)).magnitude <= 300
                let verdict = guardian.admit(timestamp: stamp, nonce: "n\(index)-\(now)", now: now)
                #expect(verdict == (fresh ? nil : .stale), "timestamp \(stamp) at \(now)")
            }
        }
    }
}
