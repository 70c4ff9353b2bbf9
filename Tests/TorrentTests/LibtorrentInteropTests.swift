import Foundation
import Testing

@testable import Torrent

/// Transfers between our engine and libtorrent, both ways, without a tracker; every one ends with a byte compare.
@Suite(.enabled(if: Peers.hasLibtorrent), .serialized)
struct LibtorrentInteropTests {
    @Test func ourSeederToLibtorrentLeecher() async throws {
        let image = try TestImage(size: 6_000_123, pieceLength: 256 << 10, seed: 11)
        let seed = try await TorrentClient.start(
            metainfo: image.metainfo, path: image.imagePath, seedOnly: true,
            configuration: TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""), logger: testLogger("seed")
        )
        let port = try #require(seed.listenPort)
        let target = try image.leecherPath("lt")
        let leecher = try LibtorrentPeer.start(
            mode: "leech", torrent: image.torrentPath, directory: target.directory, port: freePort(),
            peer: "127.0.0.1:\(port)", timeout: 60, scratch: image.directory
        )
        let status = await leecher.wait(timeout: 90)
        await seed.stop()
        #expect(status == 0, "libtorrent leecher: \(leecher.log)")
        #expect(filesEqual(image.imagePath, target.file))
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
