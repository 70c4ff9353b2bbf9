import Foundation
import Testing

@testable import Torrent

/// aria2c without any tracker: our engine dials it (aria2 itself has no "dial this peer" option).
@Suite(.enabled(if: Peers.hasAria2), .serialized)
struct Aria2DirectInteropTests {
    @Test func aria2SeederToOurLeecherWithoutTracker() async throws {
        let image = try TestImage(size: 5_000_011, pieceLength: 256 << 10, seed: 81)
        let port = freePort()
        let seeder = try Aria2Peer.seed(
            torrent: image.torrentPath, directory: image.directory.file("seed"), port: port, scratch: image.directory
        )
        let target = try image.leecherPath("ours")
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: target.file,
            configuration: TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: "", peers: ["127.0.0.1:\(port)"]),
            logger: testLogger("leech")
        )
        await expectCompletes(leecher, peerLog: seeder)
        await leecher.stop()
        #expect(filesEqual(image.imagePath, target.file))
    }

    @Test func ourSeederDialsAria2LeecherWithoutTracker() async throws {
        let image = try TestImage(size: 4_500_007, pieceLength: 128 << 10, seed: 82)
        let port = freePort()
        let target = try image.leecherPath("aria2")
        let leecher = try Aria2Peer.leech(
            torrent: image.torrentPath, directory: target.directory, port: port, scratch: image.directory
        )
        let seed = try await image.startSeed(TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""))
        // aria2 needs a moment to open its port; the seed keeps dialling with backoff.
        try await Task.sleep(for: .milliseconds(300))
        seed.addPeer("127.0.0.1:\(port)")
        let status = await leecher.wait(timeout: 60)
        await seed.stop()
        #expect(status == 0, "aria2c: \(leecher.log)")
        #expect(filesEqual(image.imagePath, target.file))
    }
}
