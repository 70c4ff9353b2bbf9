import Foundation
import Synchronization
import Logging
import Testing

@testable import Torrent

/// Debian's python3-libtorrent (2.0.x) as a real peer, driven by a small script.
enum LibtorrentPeer {
    static let script = """
        import libtorrent as lt, sys, time
        mode, torrent, save, port, peer, timeout = sys.argv[1:7]
        s = lt.session({"listen_interfaces": "127.0.0.1:" + port, "enable_dht": False, "enable_lsd": False,
                        "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
                        "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
                        "out_enc_policy": int(lt.enc_policy.disabled),
                        "in_enc_policy": int(lt.enc_policy.disabled),
                        "alert_mask": int(lt.alert_category.peer | lt.alert_category.connect)})
        p = lt.add_torrent_params()
        p.ti = lt.torrent_info(torrent)
        p.save_path = save
        if mode == "seed":
            p.flags |= lt.torrent_flags.seed_mode
        h = s.add_torrent(p)
        print("READY", flush=True)
        deadline = time.time() + float(timeout)
        last_dial = 0
        started = time.time()
        events = []
        while time.time() < deadline:
            # Connections made and lost, with libtorrent's reason, for a stalled transfer's diagnostics.
            for alert in s.pop_alerts():
                if isinstance(alert, (lt.peer_connect_alert, lt.peer_disconnected_alert)):
                    events.append("%.2f s %s" % (time.time() - started, alert.message()))
            st = h.status()
            if peer and st.num_peers == 0 and time.time() - last_dial > 2:
                host, pport = peer.rsplit(":", 1)
                h.connect_peer((host, int(pport)))
                last_dial = time.time()
            if mode == "leech" and st.is_seeding:
                print("DONE", st.total_payload_download, flush=True)
                sys.exit(0)
            time.sleep(0.05)
        st = h.status()
        print("TIMEOUT", st.progress, flush=True)
        for event in events:
            print("EVENT", event, flush=True)
        # What a stalled transfer looked like from this side, for the test's failure message.
        try:
            print("MISSING", [i for i, got in enumerate(st.pieces) if not got], flush=True)
            for info in h.get_peer_info():
                flags = {name: bool(info.flags & getattr(lt.peer_info, name))
                         for name in ("interesting", "choked", "remote_interested", "remote_choked")}
                print("PEER", info.ip, flags, "has", [i for i, got in enumerate(info.pieces) if got],
                      "queue", info.download_queue_length, "requests_out", info.request_timeout, flush=True)
            print("DOWNLOADING", h.get_download_queue(), flush=True)
        except Exception as error:
            print("NO DIAGNOSTICS", repr(error), flush=True)
        sys.exit(1 if mode == "leech" else 0)
        """

    /// Starts libtorrent seeding or leeching `torrent` into/from `directory`, optionally dialling `peer`.
    static func start(
        mode: String, torrent: String, directory: String, port: Int, peer: String = "", timeout: Int = 120,
        scratch: TemporaryDirectory
    ) throws -> ChildProcess {
        let scriptPath = scratch.file("lt-\(mode)-\(port).py")
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            Peers.python, [scriptPath, mode, torrent, directory, "\(port)", peer, "\(timeout)"],
            outputFile: scratch.file("lt-\(mode)-\(port).log")
        )
        return process
    }

    /// Runs a libtorrent leecher of `image` that dials `seed` directly (no tracker), for up to 90 s; returns its
    /// exit status (nil when it ran out of time), its log and the file it wrote.
    static func leech(_ image: TestImage, from seed: TorrentClient) async throws
        -> (status: Int32?, log: String, file: String) {
        let port = try #require(seed.listenPort)
        let target = try image.leecherPath("lt")
        let leecher = try start(mode: "leech", torrent: image.torrentPath, directory: target.directory,
                                port: freePort(), peer: "127.0.0.1:\(port)", timeout: 60, scratch: image.directory)
        let status = await leecher.wait(timeout: 90)
        return (status, leecher.log, target.file)
    }
}

/// Waits until `log` contains `marker` or the timeout passes.
/// The deadline is generous: when the whole suite starts at once on 2 cores a test may wait tens of seconds to run.
func waitForOutput(_ child: ChildProcess, _ marker: String, timeout: Double = 60) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if child.log.contains(marker) { return true }
        if !child.isRunning { return false }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return false
}

/// Runs `body` and throws if it takes longer than `seconds`, without waiting for a body that ignores cancellation.
func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let once = ResumeOnce(continuation)
        let work = Task {
            do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            work.cancel()
            once.resume(.failure(TorrentError(.stopped, "timed out after \(seconds) s")))
        }
    }
}

/// Resumes a continuation at most once.
final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ result: Result<T, any Error>) {
        continuation.withLock { pending in
            pending?.resume(with: result)
            pending = nil
        }
    }
}

/// A test image and its torrent in a scratch directory.
struct TestImage {
    let directory: TemporaryDirectory
    let imagePath: String
    let torrentPath: String
    let metainfo: Metainfo

    init(size: Int, pieceLength: Int, announce: String? = nil, seed: UInt64 = 1) throws {
        directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.file("seed"), withIntermediateDirectories: true)
        imagePath = directory.file("seed/image.img")
        try writeRandomFile(imagePath, size: size, seed: seed)
        metainfo = try MetainfoBuilder.create(
            path: imagePath, pieceLength: pieceLength, announce: announce, logger: Logger(label: "test")
        )
        torrentPath = directory.file("image.torrent")
        try Data(metainfo.encoded()).write(to: URL(fileURLWithPath: torrentPath))
    }

    /// A fresh directory for a leecher, and the path the image will have in it.
    func leecherPath(_ name: String) throws -> (directory: String, file: String) {
        let path = directory.file(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return (path, "\(path)/\(metainfo.name)")
    }
}

/// A logger for tests (warnings and up reach the console).
func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["RACKSWARM_TEST_LOG"] == nil ? .warning : .debug
    return logger
}

extension TestImage {
    /// Starts our engine seeding this image; with a tracker, expects the tracker to list it as a seeder.
    func startSeed(_ configuration: TorrentConfiguration, tracker: TestTracker? = nil) async throws -> TorrentClient {
        let seed = try await TorrentClient.start(
            metainfo: metainfo, path: imagePath, seedOnly: true, configuration: configuration,
            logger: testLogger("seed"))
        if let tracker { #expect(try await tracker.waitForSeeders(metainfo.infoHash, 1)) }
        return seed
    }

    /// Starts one of our leechers into a fresh directory `name`; returns it and the file it writes.
    func startLeecher(_ name: String, _ configuration: TorrentConfiguration) async throws
        -> (client: TorrentClient, file: String) {
        let target = try leecherPath(name)
        let client = try await TorrentClient.start(
            metainfo: metainfo, path: target.file, configuration: configuration, logger: testLogger(name))
        return (client, target.file)
    }

    /// Starts one of our leechers per name (configured by its index), each into its own directory.
    func startLeechers(_ names: [String], _ configuration: (Int) -> TorrentConfiguration) async throws
        -> (clients: [TorrentClient], files: [String]) {
        var clients: [TorrentClient] = []
        var files: [String] = []
        for (index, name) in names.enumerated() {
            let leecher = try await startLeecher(name, configuration(index))
            clients.append(leecher.client)
            files.append(leecher.file)
        }
        return (clients, files)
    }
}
