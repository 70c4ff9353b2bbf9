import Foundation
import Testing

@testable import Torrent

/// A restart rechecks the target and fetches only what is missing; a leecher uploads from its first verified piece.
@Suite(.serialized)
struct ResumeAndEarlyUploadTests {
    @Test func resumeFetchesOnlyMissingPieces() async throws {
        let image = try TestImage(size: 4_194_304 + 1234, pieceLength: 256 << 10, seed: 61)
        let original = try Data(contentsOf: URL(fileURLWithPath: image.imagePath))
        let target = try image.leecherPath("resume")
        // The first 10 pieces are on disk, piece 4 corrupted, the rest never written.
        var partial = original.prefix(10 * 262_144)
        partial[4 * 262_144 + 100] ^= 0xff
        try partial.write(to: URL(fileURLWithPath: target.file))
        let seed = try await image.startSeed(TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""))
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: target.file,
            configuration: TorrentConfiguration(listenHost: nil, trackerURL: ""),
            logger: testLogger("resume")
        )
        // Read what the recheck found before any peer can add pieces.
        let start = try await leecher.progress()
        leecher.addPeer("127.0.0.1:\(seed.listenPort ?? 0)")
        try await withTimeout(30) { try await leecher.waitUntilComplete() }
        let end = try await leecher.progress()
        await leecher.stop()
        await seed.stop()
        #expect(start.verifiedPieces == 9)
        let missing = image.metainfo.length - 9 * 262_144
        #expect(end.downloadedBytes >= missing)
        #expect(end.downloadedBytes < missing + 262_144)
        #expect(filesEqual(image.imagePath, target.file))
    }

    @Test func leecherUploadsBeforeItCompletes() async throws {
        let image = try TestImage(size: 6 << 20, pieceLength: 256 << 10, seed: 62)
        // A slow seed (512 KiB/s) so the first leecher stays incomplete for about 12 s.
        let seed = try await image.startSeed(
            TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: "", uploadLimit: 1 << 19))
        let (relay, _) = try await image.startLeecher("relay", TorrentConfiguration(
            listenHost: "127.0.0.1", trackerURL: "", peers: ["127.0.0.1:\(seed.listenPort ?? 0)"]))
        let (downstream, second) = try await image.startLeecher("downstream", TorrentConfiguration(
            listenHost: nil, trackerURL: "", peers: ["127.0.0.1:\(relay.listenPort ?? 0)"]))
        // The relay must send piece data while it is still incomplete (the paper saw uploads start at 4%).
        let sawEarlyUpload = try await withTimeout(30) {
            while true {
                let upstream = try await relay.progress()
                if upstream.uploadedBytes > 0 && !upstream.isComplete { return true }
                if upstream.isComplete { return false }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(sawEarlyUpload)
        try await withTimeout(60) { try await downstream.waitUntilComplete() }
        await downstream.stop()
        await relay.stop()
        await seed.stop()
        #expect(filesEqual(image.imagePath, second))
    }
}
