import Drivers
import Foundation
import LabSupport
import Testing
import Torrent

/// The real `reconcile boot serve`: its tracker serves the site's images (their torrents in the HTTP root) and
/// refuses any other info-hash, as the reconciler's does; an image published while it runs is served within the
/// follower's interval.
struct BootServeTrackerTests {
    @Test(.timeLimit(.minutes(2)))
    func servesOnlyTheSiteTorrents() async throws {
        let reconcile = try #require(builtBinaries.map { $0 + "/reconcile" }, "reconcile is not built")
        let curl = try #require(tool("curl"), "curl is not installed (boot.apt)")
        let directory = try TemporaryDirectory()
        let port = try freePort()
        let image = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try directory.write("site/images/tiny.img", image)
        let sha = await runTool("/usr/bin/sha256sum", [directory.path + "/site/images/tiny.img"]).output.prefix(64)
        let http = try directory.writeBootSite("""
            ---
            apiVersion: rackswarm.io/v1
            kind: Image
            metadata: {name: tiny}
            spec:
              version: "1"
              file: images/tiny.img
              sha256: "\(sha)"
              kernel: boot/vmlinuz
              initrd: boot/initrd.img

            """)
        let torrent = http + "/torrents/tiny@1.torrent"
        try FileManager.default.createDirectory(atPath: http + "/torrents", withIntermediateDirectories: true)
        let tracker = "http://127.0.0.1:\(port)/announce"
        let published = await runTool(reconcile, ["image", "publish", directory.path + "/site/images/tiny.img",
                                                  "--out-file", torrent, "--tracker", tracker])
        try #require(published.succeeded, "\(published.output)")
        let infoHash = try Metainfo(bytes: Array(Data(contentsOf: URL(fileURLWithPath: torrent)))).infoHash.bytes

        let server = try LabProcess(
            reconcile, ["boot", "serve", "--repo", directory.path + "/site", "--listen", "127.0.0.1",
                        "--port", "\(port)"],
            outputFile: directory.path + "/server.log")
        defer {
            server.signal()
            _ = Task { await server.wait(timeout: 5) }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, !((try? directory.read("server.log")) ?? "").contains("listening on") {
            try await Task.sleep(for: .milliseconds(50))
        }
        func announce(_ hash: [UInt8]) async -> String {
            let request = AnnounceRequest(infoHash: hash, peerID: [UInt8](repeating: 7, count: 20), port: 6881,
                                          left: 1000, event: .started, rack: nil)
            return await runTool(curl, ["-sS", "--max-time", "10",
                                        "http://127.0.0.1:\(port)/announce?\(request.query)"]).output
        }
        let served = await announce(infoHash)
        #expect(served.contains("8:intervali") && !served.contains("failure"), "\(served)")
        let stranger = await announce([UInt8](repeating: 0xab, count: 20))
        #expect(stranger.contains("is not one this tracker serves"), "\(stranger)")

        // A torrent of the site's image replaced (a new piece size): the new info-hash is served after a reread.
        let republished = await runTool(reconcile, ["image", "publish", directory.path + "/site/images/tiny.img",
                                                    "--out-file", torrent, "--piece-size", "64KiB", "--tracker", tracker])
        try #require(republished.succeeded, "\(republished.output)")
        let newHash = try Metainfo(bytes: Array(Data(contentsOf: URL(fileURLWithPath: torrent)))).infoHash.bytes
        try #require(newHash != infoHash)
        var answer = await announce(newHash)
        let followed = ContinuousClock.now + .seconds(30)
        while answer.contains("failure"), ContinuousClock.now < followed {
            try await Task.sleep(for: .seconds(1))
            answer = await announce(newHash)
        }
        #expect(!answer.contains("failure") && answer.contains("8:intervali"), "\(answer)")
        #expect((await announce(infoHash)).contains("is not one this tracker serves"))
    }
}
