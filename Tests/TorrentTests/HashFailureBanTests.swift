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

    init(pieceCount: Int) { self.pieceCount = pieceCount }

    func channelActive(context: ChannelHandlerContext) {
        connections.withLockedValue { $0 += 1 }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var out = context.channel.allocator.buffer(capacity: 64)
        switch Self.unwrapInboundIn(data) {
        case .handshake(let handshake):
            Handshake(infoHash: handshake.infoHash, peerID: Array("-XX0000-liar00000000".utf8)).write(into: &out)
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
            .bind(host: "127.0.0.1", port: 0).get()
    }
}

struct HashFailureBanTests {
    @Test func badPiecesAreDiscardedAndTheLiarBanned() async throws {
        let image = try TestImage(size: 2_000_000, pieceLength: 64 << 10, seed: 51)
        let liar = LyingSeeder(pieceCount: image.metainfo.pieceCount)
        let liarChannel = try await liar.start()
        let liarPort = try #require(liarChannel.localAddress?.port)
        let target = try image.leecherPath("victim")
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: target.file,
            configuration: TorrentConfiguration(
                listenHost: nil, trackerURL: "", peers: ["127.0.0.1:\(liarPort)"], maxBadPieces: 2
            ),
            logger: testLogger("victim")
        )
        try await withTimeout(20) {
            while try await leecher.progress().bannedPeers == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
        var progress = try await leecher.progress()
        #expect(progress.hashFailures >= 2)
        #expect(progress.verifiedPieces == 0)
        // An honest seed then provides everything; the liar is never dialled again.
        let seed = try await TorrentClient.start(
            metainfo: image.metainfo, path: image.imagePath, seedOnly: true,
            configuration: TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""), logger: testLogger("seed")
        )
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
