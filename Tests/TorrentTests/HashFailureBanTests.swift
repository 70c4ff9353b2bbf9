import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import Torrent

/// A seeder that claims every piece and answers requests with garbage.
final class LyingSeeder: ChannelInboundHandler, Sendable {
    typealias InboundIn = PeerWireEvent
    let pieceCount: Int
    let connections = NIOLockedValueBox(0)
    let host: String

    init(pieceCount: Int, host: String = "127.0.0.1") {
        self.pieceCount = pieceCount
        self.host = host
    }

    func channelActive(context: ChannelHandlerContext) {
        connections.withLockedValue { $0 += 1 }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var out = context.channel.allocator.buffer(capacity: 64)
        switch Self.unwrapInboundIn(data) {
        case .handshake(let handshake):
            // A fresh peer id on every connection: only its address gives it away.
            let id = Array("-XX0000-liar".utf8) + (0..<8).map { _ in UInt8.random(in: 0x61...0x7a) }
            Handshake(infoHash: handshake.infoHash, peerID: id).write(into: &out)
            PeerMessage.bitfield(ByteBuffer(bytes: Bitfield(count: pieceCount, allSet: true).bytes)).write(into: &out)
            PeerMessage.unchoke.write(into: &out)
        case .message(.request(let request)):
            let junk = ByteBuffer(repeating: 0x5a, count: Int(request.length))
            PeerMessage.piece(piece: request.piece, begin: request.begin, block: junk).write(into: &out)
        case .message:
            return
        }
        context.writeAndFlush(NIOAny(out), promise: nil)
    }

    func start() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerWireDecoder()))
                    try channel.pipeline.syncOperations.addHandler(self)
                }
            }
            .bind(host: host, port: 0).get()
    }
}

struct HashFailureBanTests {
    @Test func badPiecesAreDiscardedAndTheLiarBanned() async throws {
        let image = try TestImage(size: 2_000_000, pieceLength: 64 << 10, seed: 51)
        let liar = LyingSeeder(pieceCount: image.metainfo.pieceCount, host: "127.0.0.2")
        let liarChannel = try await liar.start()
        let liarPort = try #require(liarChannel.localAddress?.port)
        let target = try image.leecherPath("victim")
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: target.file,
            configuration: TorrentConfiguration(
                listenHost: "127.0.0.1", trackerURL: "", peers: ["127.0.0.2:\(liarPort)"], maxBadPieces: 2
            ),
            logger: testLogger("victim")
        )
        try await withTimeout(20) {
            while try await leecher.progress().bannedPeers == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
        var progress = try await leecher.progress()
        #expect(progress.hashFailures >= 2)
        #expect(progress.verifiedPieces == 0)
        // The ban is on the address: coming back with a new peer id (dialling in this time) is refused, while
        // another address is served.
        let victimPort = try #require(leecher.listenPort)
        let returning = try RawPeer(port: victimPort, from: "127.0.0.2")
        returning.handshake(infoHash: image.metainfo.infoHash.bytes, peerID: Array("-XX0000-newface00000".utf8))
        #expect(returning.waitForClose(), "a banned address with a new peer id was let in")
        let stranger = try RawPeer(port: victimPort, from: "127.0.0.3")
        stranger.handshake(infoHash: image.metainfo.infoHash.bytes)
        #expect(stranger.readUntil { if case .handshake = $0 { true } else { false } })
        // An honest seed then provides everything; the liar is never dialled again.
        let seed = try await image.startSeed(TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""))
        leecher.addPeer("127.0.0.1:\(seed.listenPort ?? 0)")
        try await withTimeout(30) { try await leecher.waitUntilComplete() }
        progress = try await leecher.progress()
        try await Task.sleep(for: .seconds(6))
        #expect(liar.connections.withLockedValue { $0 } == 1)
        await leecher.stop()
        await seed.stop()
        try await liarChannel.close()
        #expect(progress.isComplete)
        #expect(filesEqual(image.imagePath, target.file))
    }
}
