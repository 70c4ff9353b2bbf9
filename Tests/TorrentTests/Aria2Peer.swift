import Foundation

@testable import Torrent

/// aria2c as a real peer (it has no "dial this peer" option, so it always goes through a tracker).
enum Aria2Peer {
    static func leech(torrent: String, directory: String, port: Int, scratch: TemporaryDirectory) throws -> ChildProcess
    {
        try ChildProcess(
            "/usr/bin/aria2c",
            common(port: port) + ["--seed-time=0", "--dir=\(directory)", torrent],
            outputFile: scratch.file("aria2-leech-\(port).log")
        )
    }

    static func seed(torrent: String, directory: String, port: Int, scratch: TemporaryDirectory) throws -> ChildProcess
    {
        try ChildProcess(
            "/usr/bin/aria2c",
            common(port: port) + [
                "--bt-seed-unverified=true", "--seed-ratio=0.0", "--check-integrity=false", "--dir=\(directory)",
                torrent,
            ],
            outputFile: scratch.file("aria2-seed-\(port).log")
        )
    }

    static func common(port: Int) -> [String] {
        [
            "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
            "--listen-port=\(port)", "--file-allocation=none", "--console-log-level=warn", "--summary-interval=0",
            "--bt-tracker-connect-timeout=5", "--bt-tracker-interval=2", "--disable-ipv6=true",
        ]
    }
}

/// Our tracker on a free port on 127.0.0.1.
struct TestTracker {
    let service: TrackerService
    let running: TrackerHTTPServer.Running
    let url: String

    static func start(_ configuration: TrackerConfiguration = TrackerConfiguration(interval: 5)) async throws
        -> TestTracker
    {
        let service = TrackerService(tracker: Tracker(configuration: configuration))
        let running = try await TrackerHTTPServer.start(
            service: service, host: "127.0.0.1", port: 0, logger: testLogger("tracker")
        )
        return TestTracker(service: service, running: running, url: "http://127.0.0.1:\(running.port)/announce")
    }

    /// Seeders and leechers the tracker knows for `infoHash`.
    func counts(_ infoHash: SHA1Digest) throws -> (complete: Int, incomplete: Int) {
        let body = service.handle(uri: "/scrape?info_hash=" + URLQuery.percentEncode(infoHash.bytes), remoteHost: "")
        let entry = try BencodeDecoder.decode(body.body)["files"].flatMap { files -> BencodeValue? in
            guard case .dictionary(let entries) = files else { return nil }
            return entries[infoHash.bytes]
        }
        return (Int(entry?["complete"]?.integerValue ?? 0), Int(entry?["incomplete"]?.integerValue ?? 0))
    }

    /// Waits until at least `seeders` seeders announced.
    func waitForSeeders(_ infoHash: SHA1Digest, _ seeders: Int, timeout: Double = 20) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try counts(infoHash).complete >= seeders { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func stop() async { await running.stop() }
}
