import Foundation
import Testing

@testable import Torrent

/// One slow seed and several of our leechers in two racks, through our tracker: the leechers feed each other.
struct SwarmTests {
    @Test func leechersShareWithEachOtherThroughTheTracker() async throws {
        let tracker = try await TestTracker.start(TrackerConfiguration(interval: 2, otherRackPeers: 1))
        let image = try TestImage(size: 4 << 20, pieceLength: 128 << 10, announce: tracker.url, seed: 101)
        let seed = try await image.startSeed(
            TorrentConfiguration(listenHost: "127.0.0.1", uploadLimit: 2 << 20), tracker: tracker)
        let (leechers, targets) = try await image.startLeechers((0..<4).map { "node\($0)" }) {
            TorrentConfiguration(listenHost: "127.0.0.1", rack: $0 < 2 ? "r1" : "r2")
        }
        let all = leechers
        do {
            try await withTimeout(60) {
                for leecher in all { try await leecher.waitUntilComplete() }
            }
        } catch {
            let state = await swarmState(seed: seed, leechers: leechers)
            Issue.record("swarm did not complete: \(error)\n\(state)")
        }
        var fromPeers: Int64 = 0
        for leecher in leechers { fromPeers += try await leecher.progress().uploadedBytes }
        let fromSeed = try await seed.progress().uploadedBytes
        for leecher in leechers { await leecher.stop() }
        await seed.stop()
        await tracker.stop()
        for target in targets { #expect(filesEqual(image.imagePath, target)) }
        #expect(fromPeers >= Int64(image.metainfo.pieceLength), "leechers uploaded \(fromPeers) bytes")
        #expect(fromSeed < 4 * image.metainfo.length, "the seed did not send every copy itself")
    }
}
