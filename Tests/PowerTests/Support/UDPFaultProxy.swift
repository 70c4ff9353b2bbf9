import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A UDP relay between the client and a real BMC that drops or garbles chosen datagrams, to test retransmits
/// and integrity checks (this kernel has no netem). Each direction numbers its datagrams from 0, and apart from that
/// its session messages (RMCP+ IPMI payloads, after the handshake): a retransmit during the handshake, which a loaded
/// machine causes when an answer is late, shifts the first numbers but not the second.
final class UDPFaultProxy: Sendable {
    /// What to do with one datagram.
    enum Fault: Sendable {
        case pass
        case drop
        case garble
    }

    /// Decides per direction, datagram index and, for a session message, its index among those.
    typealias Policy = @Sendable (_ toBMC: Bool, _ index: Int, _ sessionIndex: Int?) -> Fault

    /// Whether a datagram is an RMCP+ session message: authentication type 6 (RMCP+) and payload type 0 (IPMI).
    static func isSessionMessage(_ buffer: ByteBuffer) -> Bool {
        guard let auth = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self),
            let payload = buffer.getInteger(at: buffer.readerIndex + 5, as: UInt8.self)
        else { return false }
        return auth == 0x06 && payload & 0x3f == 0x00
    }

    let port: Int
    private let front: any Channel
    private let back: any Channel
    private let counters: NIOLockedValueBox<(toBMC: Int, toClient: Int, dropped: Int, garbled: Int)>

    /// Datagrams dropped and garbled so far.
    var faults: (dropped: Int, garbled: Int) { counters.withLockedValue { ($0.dropped, $0.garbled) } }

    init(bmcPort: Int, policy: @escaping Policy) async throws {
        let bmc = try SocketAddress(ipAddress: "127.0.0.1", port: bmcPort)
        let client = NIOLockedValueBox<SocketAddress?>(nil)
        let counters = NIOLockedValueBox<(toBMC: Int, toClient: Int, dropped: Int, garbled: Int)>((0, 0, 0, 0))
        let sessionCounters = NIOLockedValueBox<(toBMC: Int, toClient: Int)>((0, 0))
        let group = MultiThreadedEventLoopGroup.singleton
        let decide: @Sendable (Bool, inout ByteBuffer) -> Bool = { toBMC, buffer in
            let sessionIndex = Self.isSessionMessage(buffer) ? sessionCounters.withLockedValue { state -> Int in
                let index = toBMC ? state.toBMC : state.toClient
                if toBMC { state.toBMC += 1 } else { state.toClient += 1 }
                return index
            } : nil
            let fault = counters.withLockedValue { state -> Fault in
                let index = toBMC ? state.toBMC : state.toClient
                if toBMC { state.toBMC += 1 } else { state.toClient += 1 }
                let fault = policy(toBMC, index, sessionIndex)
                if case .drop = fault { state.dropped += 1 }
                if case .garble = fault { state.garbled += 1 }
                return fault
            }
            switch fault {
            case .pass: return true
            case .drop: return false
            case .garble:
                // Flip a bit in the middle of the datagram: header, payload or AuthCode depending on its size.
                let offset = buffer.readerIndex + buffer.readableBytes / 2
                if let byte = buffer.getInteger(at: offset, as: UInt8.self) {
                    buffer.setInteger(byte ^ 0x40, at: offset)
                }
                return true
            }
        }
        let backBox = NIOLockedValueBox<(any Channel)?>(nil)
        let front = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler { envelope in
                        client.withLockedValue { $0 = envelope.remoteAddress }
                        var data = envelope.data
                        guard decide(true, &data), let back = backBox.withLockedValue({ $0 }) else { return }
                        back.writeAndFlush(AddressedEnvelope(remoteAddress: bmc, data: data), promise: nil)
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let frontChannel = front
        let back = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler { envelope in
                        var data = envelope.data
                        guard decide(false, &data), let to = client.withLockedValue({ $0 }) else { return }
                        frontChannel.writeAndFlush(AddressedEnvelope(remoteAddress: to, data: data), promise: nil)
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        backBox.withLockedValue { $0 = back }
        self.counters = counters
        self.front = front
        self.back = back
        port = front.localAddress?.port ?? 0
    }

    func stop() async {
        try? await front.close()
        try? await back.close()
    }
}

private final class RelayHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let onDatagram: @Sendable (AddressedEnvelope<ByteBuffer>) -> Void

    init(onDatagram: @escaping @Sendable (AddressedEnvelope<ByteBuffer>) -> Void) {
        self.onDatagram = onDatagram
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onDatagram(unwrapInboundIn(data))
    }
}
