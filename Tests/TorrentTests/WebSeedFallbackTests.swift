import Foundation
import Testing

@testable import Torrent

/// nginx serving the image over HTTP, as the reconciler's web seed (BEP 19).
struct Nginx {
    let process: ChildProcess
    let port: Int

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") }

    init(root: String, scratch: TemporaryDirectory) throws {
        port = freePort()
        let dir = scratch.file("nginx")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(dir)/nginx.pid;
            error_log \(dir)/error.log;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(dir)/body;
                proxy_temp_path \(dir)/proxy;
                fastcgi_temp_path \(dir)/fastcgi;
                uwsgi_temp_path \(dir)/uwsgi;
                scgi_temp_path \(dir)/scgi;
                server { listen 127.0.0.1:\(port); root \(root); }
            }
            """
        try config.write(toFile: "\(dir)/nginx.conf", atomically: true, encoding: .utf8)
        process = try ChildProcess(
            "/usr/sbin/nginx", ["-c", "\(dir)/nginx.conf", "-p", dir], outputFile: "\(dir)/out.log")
    }

    /// Waits until nginx accepts connections.
    func ready() async -> Bool {
        for _ in 0..<100 {
            if (try? RawPeer(port: port)) != nil { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

@Suite(.enabled(if: Nginx.available))
struct WebSeedFallbackTests {
    /// One of our leechers with no peer and no tracker: only `folder` on the nginx web seed.
    static func webLeecher(_ image: TestImage, nginx: Nginx, folder: String) async throws
        -> (client: TorrentClient, file: String) {
        let url = "http://127.0.0.1:\(nginx.port)/\(folder)/"
        return try await image.startLeecher("web", TorrentConfiguration(listenHost: nil, trackerURL: "", webSeeds: [url]))
    }

    @Test func piecesNoPeerHasComeFromTheWebSeed() async throws {
        let image = try TestImage(size: 3_000_017, pieceLength: 256 << 10, seed: 71)
        let nginx = try Nginx(root: image.directory.path, scratch: image.directory)
        #expect(await nginx.ready(), "nginx: \(nginx.process.log)")
        let (leecher, target) = try await Self.webLeecher(image, nginx: nginx, folder: "seed")
        try await withTimeout(30) { try await leecher.waitUntilComplete() }
        let progress = try await leecher.progress()
        await leecher.stop()
        #expect(progress.downloadedBytes == image.metainfo.length)
        #expect(filesEqual(image.imagePath, target))
    }

    @Test func webSeedServingWrongBytesIsNotTrusted() async throws {
        let image = try TestImage(size: 1_000_000, pieceLength: 64 << 10, seed: 72)
        // The web server holds different bytes under the image's name.
        let wrong = image.directory.file("wrong")
        try FileManager.default.createDirectory(atPath: wrong, withIntermediateDirectories: true)
        try writeRandomFile("\(wrong)/\(image.metainfo.name)", size: 1_000_000, seed: 999)
        let nginx = try Nginx(root: image.directory.path, scratch: image.directory)
        #expect(await nginx.ready())
        let (leecher, target) = try await Self.webLeecher(image, nginx: nginx, folder: "wrong")
        try await Task.sleep(for: .seconds(3))
        let progress = try await leecher.progress()
        #expect(progress.verifiedPieces == 0)
        #expect(progress.hashFailures >= 1)
        // A real seed then completes the download.
        let seed = try await image.startSeed(TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""))
        leecher.addPeer("127.0.0.1:\(seed.listenPort ?? 0)")
        try await withTimeout(30) { try await leecher.waitUntilComplete() }
        await leecher.stop()
        await seed.stop()
        #expect(filesEqual(image.imagePath, target))
    }
}
