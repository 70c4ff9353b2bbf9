import Foundation
import NIOCore
import Testing

@testable import Torrent

/// Unchoking between choke rounds: a slot freed by a peer that loses interest goes to a waiting peer at once.
struct UploadSlotTests {
    @Test func aFreedSlotGoesToAWaitingPeerBeforeTheNextChokeRound() async throws {
        let image = try TestImage(size: 1 << 20, pieceLength: 64 << 10, seed: 141)
        // One regular slot plus the optimistic one; no choke round during the test.
        let seed = try await image.startSeed(
            TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: "", uploadSlots: 1, chokeInterval: 600))
        let port = try #require(seed.listenPort)
        var peers: [RawPeer] = []
        for index in 0..<3 {
            let peer = try RawPeer(port: port)
            var handshake = ByteBuffer()
            let id = Array("-XX0000-slots0000000".utf8.dropLast()) + [UInt8(ascii: "a") + UInt8(index)]
            Handshake(infoHash: image.metainfo.infoHash.bytes, peerID: id).write(into: &handshake)
            peer.send(Array(handshake.readableBytesView))
            peer.send(.interested)
            peers.append(peer)
            if index < 2 {
                // The first two fill both slots as soon as they are interested.
                #expect(peer.readUntil { $0 == .message(.unchoke) }, "peer \(index) was not unchoked")
            }
        }
        // Let the seed take the third peer's `interested` first (it answers nothing while both slots are taken; were
        // it slower than this, the check below would only get weaker, not fail).
        try await Task.sleep(for: .milliseconds(500))
        // The first peer has all it wants: its slot goes to the third one now, not in ten minutes.
        peers[0].send(.notInterested)
        let unchoked = peers[2].readUntil { $0 == .message(.unchoke) }
        await seed.stop()
        #expect(unchoked, "the waiting peer was not unchoked when a slot came free")
    }
}
