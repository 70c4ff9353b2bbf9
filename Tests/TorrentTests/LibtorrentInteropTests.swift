import Foundation
import Testing

@testable import Torrent

/// Transfers between our engine and libtorrent, both ways, without a tracker; every one ends with a byte compare.
@Suite(.enabled(if: Peers.hasLibtorrent), .serialized)
struct LibtorrentInteropTests {
    @Test func ourSeederToLibtorrentLeecher() async throws {
        let image = try TestImage(size: 6_000_123, pieceLength: 256 << 10, seed: 11)
        let seed = try await image.startSeed(TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""))
        let leecher = try await LibtorrentPeer.leech(image, from: seed)
        await seed.stop()
        #expect(leecher.status == 0, "libtorrent leecher: \(leecher.log)")
        #expect(filesEqual(image.imagePath, leecher.file))
    }

    @Test func libtorrentSeederToOurLeecher() async throws {
        let image = try TestImage(size: 7_340_033, pieceLength: 512 << 10, seed: 12)
        let port = freePort()
        let seeder = try LibtorrentPeer.start(
            mode: "seed", torrent: image.torrentPath, directory: image.directory.file("seed"), port: port,
            timeout: 120, scratch: image.directory
        )
        #expect(await waitForOutput(seeder, "READY"))
        let target = try image.leecherPath("ours")
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: target.file,
            configuration: TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: "", peers: ["127.0.0.1:\(port)"]),
            logger: testLogger("leech")
        )
        do {
            try await withTimeout(60) { try await leecher.waitUntilComplete() }
        } catch {
            Issue.record("our leecher: \(error); libtorrent: \(seeder.log)")
        }
        let progress = try await leecher.progress()
        await leecher.stop()
        #expect(progress.isComplete)
        #expect(filesEqual(image.imagePath, target.file))
    }
}
