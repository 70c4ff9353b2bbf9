import Foundation
import LabSupport
import Testing

@testable import Torrent

/// A loop device as the fetch target: pieces land at their offsets on the device, and a restart rechecks it.
@Suite(.enabled(if: Peers.loopDevicesUsable))
struct BlockDeviceTargetTests {
    @Test func fetchToALoopDeviceAndResume() async throws {
        let image = try TestImage(size: 3_000_000, pieceLength: 128 << 10, seed: 91)
        let backing = image.directory.file("disk.raw")
        let truncate = try await runCommand("/usr/bin/truncate", ["-s", "4M", backing])
        try #require(truncate.status == 0)
        let attach = try await runCommand("/usr/sbin/losetup", ["-f", "--show", backing])
        try #require(attach.status == 0, "\(attach.output)")
        let device = attach.output.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? runProcessBlocking("/usr/sbin/losetup", ["-d", device]) }

        let seed = try await image.startSeed(TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""))
        let peers = ["127.0.0.1:\(seed.listenPort ?? 0)"]
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: device,
            configuration: TorrentConfiguration(listenHost: nil, trackerURL: "", peers: peers),
            logger: testLogger("device")
        )
        try await withTimeout(30) { try await leecher.waitUntilComplete() }
        await leecher.stop()
        let written = try Data(contentsOf: URL(fileURLWithPath: backing)).prefix(3_000_000)
        #expect(written == (try Data(contentsOf: URL(fileURLWithPath: image.imagePath))))

        // A restart on the same device finds every piece verified and fetches nothing.
        let again = try await TorrentClient.start(
            metainfo: image.metainfo, path: device,
            configuration: TorrentConfiguration(listenHost: nil, trackerURL: ""), logger: testLogger("device")
        )
        let progress = try await again.progress()
        await again.stop()
        await seed.stop()
        #expect(progress.isComplete)
        #expect(progress.downloadedBytes == 0)
    }
}
