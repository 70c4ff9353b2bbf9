import Foundation
import Testing

@testable import Torrent

/// libtorrent and aria2c announcing to our HTTP tracker and trading with our engine through it.
@Suite(.serialized)
struct TrackerInteropTests {
    @Test(.enabled(if: Peers.hasLibtorrent)) func ourSeederToLibtorrentLeecherViaTracker() async throws {
        let tracker = try await TestTracker.start()
        let image = try TestImage(size: 3_145_829, pieceLength: 128 << 10, announce: tracker.url, seed: 21)
        let seed = try await TorrentClient.start(
            metainfo: image.metainfo, path: image.imagePath, seedOnly: true,
            configuration: TorrentConfiguration(listenHost: "127.0.0.1"), logger: testLogger("seed")
        )
        #expect(try await tracker.waitForSeeders(image.metainfo.infoHash, 1))
        let target = try image.leecherPath("lt")
        let leecher = try LibtorrentPeer.start(
            mode: "leech", torrent: image.torrentPath, directory: target.directory, port: freePort(), timeout: 60,
            scratch: image.directory
        )
        let status = await leecher.wait(timeout: 90)
        await seed.stop()
        await tracker.stop()
        #expect(status == 0, "libtorrent: \(leecher.log)")
        #expect(filesEqual(image.imagePath, target.file))
    }

    @Test(.enabled(if: Peers.hasLibtorrent)) func libtorrentSeederToOurLeecherViaTracker() async throws {
        let tracker = try await TestTracker.start()
        let image = try TestImage(size: 2_500_000, pieceLength: 64 << 10, announce: tracker.url, seed: 22)
        let seeder = try LibtorrentPeer.start(
            mode: "seed", torrent: image.torrentPath, directory: image.directory.file("seed"), port: freePort(),
            timeout: 90, scratch: image.directory
        )
        #expect(try await tracker.waitForSeeders(image.metainfo.infoHash, 1), "\(seeder.log)")
        let target = try image.leecherPath("ours")
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: target.file,
            configuration: TorrentConfiguration(listenHost: "127.0.0.1", rack: "r1"), logger: testLogger("leech")
        )
        await expectCompletes(leecher, peerLog: seeder)
        #expect(try await tracker.waitForSeeders(image.metainfo.infoHash, 2), "our leecher announced completion")
        await leecher.stop()
        await tracker.stop()
        #expect(filesEqual(image.imagePath, target.file))
    }

    @Test(.enabled(if: Peers.hasAria2)) func ourSeederToAria2LeecherViaTracker() async throws {
        let tracker = try await TestTracker.start()
        let image = try TestImage(size: 4_000_037, pieceLength: 256 << 10, announce: tracker.url, seed: 23)
        let seed = try await TorrentClient.start(
            metainfo: image.metainfo, path: image.imagePath, seedOnly: true,
            configuration: TorrentConfiguration(listenHost: "127.0.0.1"), logger: testLogger("seed")
        )
        #expect(try await tracker.waitForSeeders(image.metainfo.infoHash, 1))
        let target = try image.leecherPath("aria2")
        let leecher = try Aria2Peer.leech(
            torrent: image.torrentPath, directory: target.directory, port: freePort(), scratch: image.directory
        )
        let status = await leecher.wait(timeout: 90)
        await seed.stop()
        await tracker.stop()
        #expect(status == 0, "aria2c: \(leecher.log)")
        #expect(filesEqual(image.imagePath, target.file))
    }

    @Test(.enabled(if: Peers.hasAria2)) func aria2SeederToOurLeecherViaTracker() async throws {
        let tracker = try await TestTracker.start()
        let image = try TestImage(size: 3_333_333, pieceLength: 256 << 10, announce: tracker.url, seed: 24)
        let seeder = try Aria2Peer.seed(
            torrent: image.torrentPath, directory: image.directory.file("seed"), port: freePort(),
            scratch: image.directory
        )
        #expect(try await tracker.waitForSeeders(image.metainfo.infoHash, 1), "\(seeder.log)")
        let target = try image.leecherPath("ours")
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: target.file,
            configuration: TorrentConfiguration(listenHost: "127.0.0.1"), logger: testLogger("leech")
        )
        await expectCompletes(leecher, peerLog: seeder)
        await leecher.stop()
        await tracker.stop()
        #expect(filesEqual(image.imagePath, target.file))
    }
}

/// Waits up to 60 s for `client` to verify every piece, recording the peer's log on failure.
func expectCompletes(_ client: TorrentClient, peerLog: ChildProcess) async {
    do {
        try await withTimeout(60) { try await client.waitUntilComplete() }
    } catch {
        Issue.record("did not complete: \(error); peer log: \(peerLog.log)")
    }
}
