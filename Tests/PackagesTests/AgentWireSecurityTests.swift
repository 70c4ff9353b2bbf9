import Drivers
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

/// Over real TCP: forged, replayed, unsigned and garbled requests get their `res` code and run nothing; a
/// reconciler that hangs up mid-request does not stop the agent.
@Suite(.serialized)
struct AgentWireSecurityTests {
    /// Sends raw bytes on one connection and collects every frame the agent writes back until it closes or
    /// `count` frames came.
    static func raw(_ bytes: [UInt8], to port: Int, expecting count: Int) async throws -> [ServiceMessage] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        // The agent answers and closes at once, so the close can race our own: what was read is the result.
        var out: [ServiceMessage] = []
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: bytes))
                var parser = ServiceMessageParser()
                for try await buffer in inbound {
                    parser.append(buffer.readableBytesView)
                    while case .message(let message) = parser.next() { out.append(message) }
                    if out.count >= count { break }
                }
            }
        } catch ChannelError.ioOnClosedChannel {
            return out
        }
        return out
    }

    @Test func forgedUnsignedReplayedAndGarbledRunNothing() async throws {
        let served = try await ServedNode.start("node30")
        defer { served.stop() }
        let (node, agent, vod) = (served.node, served.agent, served.vod)

        // A client with the wrong site key: refused, classified stalled.
        let forged = ServiceAgentClient(
            address: agent.address, key: SiteKey(bytes: Array("a-guess-at-the-site-key".utf8))!,
            logger: Logger(label: "test"))
        do {
            _ = try await forged.install(vod, on: node.name)
            Issue.record("a forged request was accepted")
        } catch {
            #expect(error.code == .unauthorized)
            #expect(error.intent == .stalled)
        }

        // The right key on a clock two hours off: refused as stale, and the client says so (the refusal carries
        // the request's nonce, so it is the client's own answer, not a protocol violation).
        let skewed = ServiceAgentClient(
            address: agent.address, key: PackageLab.key, logger: Logger(label: "test"),
            clock: { Int64(Date().timeIntervalSince1970) - 7200 })
        do {
            _ = try await skewed.install(vod, on: node.name)
            Issue.record("a request from a skewed clock was accepted")
        } catch {
            #expect(error.code == .unauthorized)
            #expect(error.detail.contains("timestamp outside the allowed window"), "\(error.detail)")
        }

        // The paper's unsigned request, and a garbled one on the same connection.
        let unsigned = ServiceMessage.request(.install, node: node.name, service: "VOD", payload: [vod.jsonText()])
        let answers = try await Self.raw(
            unsigned.encoded + Array("\n||req||provisioning||install||null||eom\n".utf8), to: agent.port, expecting: 2)
        #expect(answers.map(\.code) == [.unauthorized, .garbled])
        #expect(answers.first?.payload.first == "missing signature")

        // Framing garbage: answered garbled, then the connection is closed.
        let garbage = try await Self.raw(Array("GET / HTTP/1.1\r\n\r\n".utf8), to: agent.port, expecting: 5)
        #expect(garbage.map(\.code) == [.garbled])

        // A captured genuine request played twice: the second is refused.
        let signed = MessageAuthenticator(key: PackageLab.key).sign(
            ServiceMessage.request(.status, node: node.name, service: "VOD", payload: [vod.jsonText()]),
            timestamp: Int64(Date().timeIntervalSince1970))
        let first = try await Self.raw(signed.encoded, to: agent.port, expecting: 1)
        let second = try await Self.raw(signed.encoded, to: agent.port, expecting: 1)
        #expect(first.first?.code == .notInstalled)
        #expect(second.first?.code == .unauthorized)
        #expect(second.first?.payload.first == "replayed nonce")

        #expect(await node.installedPackages() == [])
        #expect(await node.history().isEmpty)
    }

    @Test func tlsClientHelloIsGarbledAndSilentHalfFrameIsDropped() async throws {
        let node = try LabNode("node32")
        // Two agents on one node: the ClientHello goes to one with the default idle timeout, because under a loaded
        // test run our own write can come later than a 300 ms idle close, which then answers nothing (CI saw that).
        let patient = try await RunningAgent.start(node.agent())
        let impatient = try await RunningAgent.start(node.agent(), idleTimeout: .milliseconds(300))
        defer {
            patient.stop()
            impatient.stop()
            node.cleanUp()
        }
        // The first bytes of a TLS 1.2 ClientHello record.
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]
        let answers = try await Self.raw(hello, to: patient.port, expecting: 5)
        #expect(answers.map(\.code) == [.garbled])
        #expect(answers.first?.payload.first?.contains("notAFrame") == true)

        // Half a frame, then silence: the agent closes the connection without answering.
        let start = ContinuousClock.now
        let half = Array("||req||provisioning||install||null||node32||".utf8)
        let silent = try await Self.raw(half, to: impatient.port, expecting: 1)
        #expect(silent.isEmpty)
        // A liveness bound, not a speed test: NIO's shared event loops are busy with other suites in this process.
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(await node.installedPackages() == [])
    }

    @Test func reconcilerHangingUpMidInstallDoesNotStopTheAgent() async throws {
        let served = try await ServedNode.start("node31")
        defer { served.stop() }
        let (node, agent, vod) = (served.node, served.agent, served.vod)
        let signed = MessageAuthenticator(key: PackageLab.key).sign(
            ServiceMessage.request(.install, node: node.name, service: "VOD", payload: [vod.jsonText()]),
            timestamp: Int64(Date().timeIntervalSince1970))
        // Send the install and hang up at once.
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: agent.port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: signed.encoded)).get()
        try await channel.close().get()
        // Wait until the agent is working on it (its dnf runs inside the node's directory): on a loaded machine
        // the second request could otherwise be read first.
        let started = ContinuousClock.now + .seconds(30)
        while node.processes().isEmpty, ContinuousClock.now < started { try await Task.sleep(for: .milliseconds(20)) }

        // Meanwhile another install is refused as busy; once the first is done, it finds nothing left to do.
        var sawBusy = false
        var final: ServiceAnswer?
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            do {
                final = try await agent.client().install(vod, on: node.name)
                break
            } catch {
                #expect(error.code == .busy)
                sawBusy = true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(sawBusy)
        #expect(final?.code == .ok)
        #expect(final?.detail.contains("installed 0 of 2") == true)
        #expect(final?.report?.isHealthy == true)
        #expect(await node.installedPackages() == ["rs-busybox-sh-1.0-1.x86_64", "std_cd-1.0-1.noarch",
                                                  "std_cs-1.0-1.noarch"])
    }
}
