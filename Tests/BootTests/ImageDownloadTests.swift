import BootServer
import Drivers
import Foundation
import LabSupport
import Logging
import Testing

/// An image's `url:`: downloaded once by the seed, resumed with a range request, checked against the repo's
/// SHA-256, refused with a located error when it does not match.
struct ImageDownloadTests {
    static let image = (0..<(3 << 19)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 11) }

    static func seeder(_ directory: TemporaryDirectory) throws -> ImageSeeder {
        ImageSeeder(settings: .init(httpRoot: directory.path + "/http", trackerURL: "http://127.0.0.1:9/announce",
                                    listenHost: "127.0.0.1", listenPort: try freePort()),
                    logger: Logger(label: "test.download"))
    }

    static func wanted(_ url: String, sha256: String, in directory: TemporaryDirectory) -> ImageSeeder.Wanted {
        ImageSeeder.Wanted(reference: "os@1", path: directory.path + "/http/images/.downloads/\(sha256)",
                           sha256: sha256, pieceSize: 65536, shownPath: url,
                           shownExpectation: "images/os.yaml:8:11", url: url)
    }

    /// The origin's first half is zeros; the part file already holds the true first half. Only a download that
    /// resumes at the part's end (a `Range` request) ends with the right SHA-256.
    @Test func resumesAPartialDownloadWithARangeRequestAndSeedsIt() async throws {
        let directory = try TemporaryDirectory("rackswarm-download")
        let half = Self.image.count / 2
        try directory.write("origin/os.img", Data([UInt8](repeating: 0, count: half) + Self.image[half...]))
        let sha = try FileDigest.sha256(path: try Self.write(Self.image, in: directory))
        let log = RequestLog()
        try await withBootServer(httpRoot: directory.path + "/origin", log: log) { port in
            let url = "http://127.0.0.1:\(port)/os.img"
            let wanted = Self.wanted(url, sha256: sha, in: directory)
            try directory.write("http/images/.downloads/\(sha).part", Data(Self.image[..<half]))
            let seeder = try Self.seeder(directory)
            #expect(await seeder.prepare([wanted]).isEmpty)
            #expect(FileManager.default.contents(atPath: directory.path + "/http/images/os@1") == Data(Self.image),
                    "the served copy is the whole image")
            #expect(FileManager.default.fileExists(atPath: directory.path + "/http/torrents/os@1.torrent"))
            #expect(!FileManager.default.fileExists(atPath: wanted.path + ".part"))
            // Downloaded once: the next pass finds the file and fetches nothing.
            #expect(await seeder.prepare([wanted]).isEmpty)
            let served = await log.served
            #expect(served.count == 1, "\(served)")
            await seeder.stop()
        }
    }

    @Test func aMismatchIsRefusedWithTheRepoLocationAndNotDownloadedAgain() async throws {
        let directory = try TemporaryDirectory("rackswarm-download")
        try directory.write("origin/os.img", Data(Self.image))
        let wrong = String(repeating: "ab", count: 32)
        let log = RequestLog()
        try await withBootServer(httpRoot: directory.path + "/origin", log: log) { port in
            let url = "http://127.0.0.1:\(port)/os.img"
            let seeder = try Self.seeder(directory)
            let refused = await seeder.prepare([Self.wanted(url, sha256: wrong, in: directory)])
            let got = try FileDigest.sha256(path: directory.path + "/origin/os.img")
            #expect(refused["os@1"]?.contains("image url \(url) has SHA-256 \(got), but images/os.yaml:8:11 says "
                                              + wrong) == true, "\(refused)")
            #expect(!FileManager.default.fileExists(atPath: directory.path + "/http/images/os@1"))
            let again = await seeder.prepare([Self.wanted(url, sha256: wrong, in: directory)])
            #expect(again == refused)
            let served = await log.served
            #expect(served.count == 1, "a bad download is not fetched again every pass")
            await seeder.stop()
        }
    }

    /// Python's http.server ignores `Range` and answers 200: the stale part is dropped and the download starts over.
    @Test func aServerWithoutRangesRestartsTheDownload() async throws {
        let directory = try TemporaryDirectory("rackswarm-download")
        let sha = try FileDigest.sha256(path: try Self.write(Self.image, in: directory))
        try directory.write("origin/os.img", Data(Self.image))
        let port = try freePort()
        let server = try LabProcess("/usr/bin/python3", ["-m", "http.server", "--bind", "127.0.0.1", "\(port)",
                                                         "--directory", directory.path + "/origin"],
                                    outputFile: directory.path + "/http-server.log")
        defer { server.signal() }
        for _ in 0..<100 where !tcpPortAccepts(port) { try await Task.sleep(for: .milliseconds(100)) }
        let download = ImageDownload(url: "http://127.0.0.1:\(port)/os.img",
                                     destination: directory.path + "/downloaded.img", sha256: sha)
        try directory.write("downloaded.img.part", Data(repeating: 0xFF, count: 1000))
        let transferred = try await download.run(logger: Logger(label: "test.download"))
        #expect(transferred == Int64(Self.image.count))
        #expect(FileManager.default.contents(atPath: directory.path + "/downloaded.img") == Data(Self.image))
        let log = try String(contentsOfFile: directory.path + "/http-server.log", encoding: .utf8)
        #expect(log.contains("\"GET /os.img HTTP/1.1\" 200"), "\(log)")
        server.signal()
        _ = await server.wait(timeout: 5)
    }

    @Test func aFileURLIsCopiedAndChecked() async throws {
        let directory = try TemporaryDirectory("rackswarm-download")
        let path = try Self.write(Self.image, in: directory)
        let sha = try FileDigest.sha256(path: path)
        let download = ImageDownload(url: "file://\(path)", destination: directory.path + "/copy.img", sha256: sha)
        #expect(try await download.run(logger: Logger(label: "test.download")) == Int64(Self.image.count))
        #expect(FileManager.default.contents(atPath: directory.path + "/copy.img") == Data(Self.image))
        let bad = ImageDownload(url: "file://\(path)", destination: directory.path + "/bad.img",
                                sha256: String(repeating: "0", count: 64))
        await #expect(throws: ImageDownload.Failure.self) { try await bad.run(logger: Logger(label: "test.download")) }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/bad.img"))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/bad.img.bad"))
    }

    /// The image at `origin/true.img`.
    static func write(_ bytes: [UInt8], in directory: TemporaryDirectory) throws -> String {
        try directory.write("origin/true.img", Data(bytes))
        return directory.path + "/origin/true.img"
    }
}
