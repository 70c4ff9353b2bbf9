import Foundation
import Testing

@testable import Torrent

/// libtorrent and aria2c announcing to our HTTP tracker and trading with our engine through it.
@Suite(.serialized)
struct TrackerInteropTests {
    @Test(.enabled(if: Peers.hasLibtorrent)) func ourSeederToLibtorrentLeecherViaTracker() async throws {
        try await ourSeedFeeds("libtorrent", size: 3_145_829, pieceLength: 128 << 10, seed: 21) { image, directory in
            try LibtorrentPeer.start(mode: "leech", torrent: image.torrentPath, directory: directory,
                                     port: freePort(), timeout: 60, scratch: image.directory)
        }
    }

    @Test(.enabled(if: Peers.hasLibtorrent)) func libtorrentSeederToOurLeecherViaTracker() async throws {
        try await peerSeedsOurs(size: 2_500_000, pieceLength: 64 << 10, seed: 22, rack: "r1",
                                checkCompletionAnnounced: true) { image in
            try LibtorrentPeer.start(mode: "seed", torrent: image.torrentPath, directory: image.directory.file("seed"),
                                     port: freePort(), timeout: 90, scratch: image.directory)
        }
    }

    @Test(.enabled(if: Peers.hasAria2)) func ourSeederToAria2LeecherViaTracker() async throws {
        try await ourSeedFeeds("aria2c", size: 4_000_037, pieceLength: 256 << 10, seed: 23) { image, directory in
            try Aria2Peer.leech(torrent: image.torrentPath, directory: directory, port: freePort(),
                                scratch: image.directory)
        }
    }

    @Test(.enabled(if: Peers.hasAria2)) func aria2SeederToOurLeecherViaTracker() async throws {
        try await peerSeedsOurs(size: 3_333_333, pieceLength: 256 << 10, seed: 24, rack: nil,
                                checkCompletionAnnounced: false) { image in
            try Aria2Peer.seed(torrent: image.torrentPath, directory: image.directory.file("seed"), port: freePort(),
                               scratch: image.directory)
        }
    }

    /// Our seed feeds another client's leecher (started in the given directory) through our tracker.
    func ourSeedFeeds(_ peer: String, size: Int, pieceLength: Int, seed: UInt64,
                      leecher start: (TestImage, String) throws -> ChildProcess) async throws {
        let tracker = try await TestTracker.start()
        let image = try TestImage(size: size, pieceLength: pieceLength, announce: tracker.url, seed: seed)
        let ours = try await image.startSeed(TorrentConfiguration(listenHost: "127.0.0.1"), tracker: tracker)
        let target = try image.leecherPath(peer)
        let leecher = try start(image, target.directory)
        let status = await leecher.wait(timeout: 90)
        await ours.stop()
        await tracker.stop()
        #expect(status == 0, "\(peer): \(leecher.log)")
        #expect(filesEqual(image.imagePath, target.file))
    }

    /// Another client's seeder feeds our leecher through our tracker, which can be asked to then list our leecher as
    /// a seeder too (it announced its completion).
    func peerSeedsOurs(size: Int, pieceLength: Int, seed: UInt64, rack: String?, checkCompletionAnnounced: Bool,
                       seeder start: (TestImage) throws -> ChildProcess) async throws {
        let tracker = try await TestTracker.start()
        let image = try TestImage(size: size, pieceLength: pieceLength, announce: tracker.url, seed: seed)
        let seeder = try start(image)
        #expect(try await tracker.waitForSeeders(image.metainfo.infoHash, 1), "\(seeder.log)")
        let leecher = try await image.startLeecher("ours", TorrentConfiguration(listenHost: "127.0.0.1", rack: rack))
        await expectCompletes(leecher.client, peerLog: seeder)
        if checkCompletionAnnounced {
            #expect(try await tracker.waitForSeeders(image.metainfo.infoHash, 2), "our leecher announced completion")
        }
        await leecher.client.stop()
        await tracker.stop()
        #expect(filesEqual(image.imagePath, leecher.file))
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
