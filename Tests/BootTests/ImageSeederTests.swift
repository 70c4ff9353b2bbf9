import BootServer
import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// The reconciler's initial seed: the SHA-256 check, the served copy and torrent, and seeds that come and go with
/// the images nodes run.
struct ImageSeederTests {
    @Test func seedsWhatIsWantedRefusesAMismatchAndStopsWhatIsNotWantedAnyMore() async throws {
        let directory = try TemporaryDirectory("rackswarm-seeder")
        let image = directory.path + "/os.img"
        try Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: image))
        let sha = try FileDigest.sha256(path: image)
        let seeder = ImageSeeder(
            settings: .init(httpRoot: directory.path + "/http", trackerURL: "http://127.0.0.1:9/announce",
                            listenHost: "127.0.0.1", listenPort: try freePort()),
            logger: Logger(label: "test.seeder"))
        let good = ImageSeeder.Wanted(reference: "os@1", path: image, sha256: sha, pieceSize: 65536,
                                      shownPath: "images/os.img", shownExpectation: "images/os.yaml:8:11")
        let bad = ImageSeeder.Wanted(reference: "os@2", path: image, sha256: String(repeating: "0", count: 64),
                                     pieceSize: 65536, shownPath: "images/os.img",
                                     shownExpectation: "images/os.yaml:8:11")
        let refused = await seeder.prepare([good, bad])
        #expect(refused.keys.sorted() == ["os@2"])
        #expect(refused["os@2"]?.contains("images/os.img has SHA-256 \(sha), but images/os.yaml:8:11 says 000") == true)
        #expect(FileManager.default.contents(atPath: directory.path + "/http/images/os@1")
                == FileManager.default.contents(atPath: image), "the served copy")
        #expect(FileManager.default.fileExists(atPath: directory.path + "/http/torrents/os@1.torrent"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/http/images/os@2"),
                "nothing refused is served")
        #expect(await seeder.uploadedBytes().keys.sorted() == ["os@1"])
        // A later pass where no node runs os@1 any more stops its seed.
        #expect(await seeder.prepare([]).isEmpty)
        #expect(await seeder.uploadedBytes().isEmpty)
        await seeder.stop()
    }
}
