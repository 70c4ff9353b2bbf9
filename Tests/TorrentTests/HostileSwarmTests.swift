import Foundation
import LabSupport
import NIOConcurrencyHelpers
import Testing

@testable import Torrent

/// Peers that hold slots without trading, flood data-less messages or crowd in from one address, against a real
/// seed session and a real leecher: the leecher's first piece arrives within a bound all the same.
@Suite(.serialized)
struct HostileSwarmTests {
    static func seed(_ image: TestImage) async throws -> (TorrentClient, Int) {
        let seed = try await image.startSeed(TorrentConfiguration(listenHost: "127.0.0.1", trackerURL: ""))
        return (seed, try #require(seed.listenPort))
    }

    /// Seconds from `since` until a real leecher, started now, verified its first piece from the seed.
    static func firstPieceSeconds(
        _ image: TestImage, port: Int, name: String, since started: ContinuousClock.Instant
    ) async throws -> Double {
        let target = try image.leecherPath(name)
        let leecher = try await TorrentClient.start(
            metainfo: image.metainfo, path: target.file,
            configuration: TorrentConfiguration(listenHost: nil, trackerURL: "", peers: ["127.0.0.1:\(port)"]),
            logger: testLogger(name)
        )
        defer { Task { await leecher.stop() } }
        try await withTimeout(60) { try await leecher.waitUntilFirstPiece() }
        let elapsed = ContinuousClock.now - started
        await leecher.stop()
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    @Test func aHundredKeepAliveOnlyPeersDoNotKeepALeecherFromData() async throws {
        let image = try TestImage(size: 2 << 20, pieceLength: 64 << 10, seed: 181)
        let (seed, port) = try await Self.seed(image)
        let idlersCame = ContinuousClock.now
        // 100 handshaken peers from 100 addresses that only ever send keep-alives: more than the 80 slots.
        var idlers: [RawPeer] = []
        for index in 0..<100 {
            let peer = try RawPeer(port: port, from: "127.0.1.\(index + 1)")
            peer.handshake(infoHash: image.metainfo.infoHash.bytes, peerID: Array("-XX0000-".utf8) + randomID())
            idlers.append(peer)
        }
        // Six seconds of keep-alives: the idlers are idle longer than `evictAfter` when the leecher comes.
        for _ in 0..<6 {
            try await Task.sleep(for: .seconds(1))
            for peer in idlers { peer.send(.keepAlive) }
        }
        let full = try await eventually(30) { try await seed.progress().peers == 80 }
        let held = try await seed.progress().peers
        #expect(full, "every slot held by an idler: \(held) peers")
        // Before: the leecher was refused while the idlers held every slot (180 s). Now idle peers give way: one is
        // evicted for the leecher. No slot frees any other way before the idle timeout (30 s from an idler's
        // connection), so a first piece sooner than that after the idlers came proves the eviction, however slow the
        // machine (a fixed 5 s from the leecher's start failed once at load 13, with 7.6 s).
        let seconds = try await Self.firstPieceSeconds(image, port: port, name: "leecher", since: idlersCame)
        let idleTimeout = Double(TorrentConfiguration().idleTimeout)
        #expect(seconds < idleTimeout, "first piece \(seconds) s after the idlers came")
        // The rest are dropped after the idle timeout (30 s), long before the old 180 s. (A fixed 26 s sleep left
        // about a second for the last idler's handshake and the seed's once-a-second check on a loaded machine.)
        let dropped = try await eventually(60) { try await seed.progress().peers == 0 }
        let left = try await seed.progress().peers
        #expect(dropped, "\(left) idlers still connected")
        await seed.stop()
    }

    @Test func aKeepAliveFlooderIsClosedAndOthersStillGetTheirFirstPiece() async throws {
        let image = try TestImage(size: 2 << 20, pieceLength: 64 << 10, seed: 182)
        let (seed, port) = try await Self.seed(image)
        let flooder = try RawPeer(port: port, from: "127.0.2.1")
        flooder.handshake(infoHash: image.metainfo.infoHash.bytes)
        let closed = NIOLockedValueBox(false)
        let sent = NIOLockedValueBox(0)
        let floodStarted = ContinuousClock.now
        // Keep-alives as fast as the socket takes them, until the seed closes the connection (or 30 s pass).
        let thread = Thread {
            let burst = [UInt8](repeating: 0, count: 64 << 10)
            let deadline = Date().addingTimeInterval(Self.floodSeconds)
            while Date() < deadline {
                guard flooder.send(burst) else {
                    closed.withLockedValue { $0 = true }
                    return
                }
                sent.withLockedValue { $0 += burst.count / 4 }
            }
        }
        thread.start()
        // The leecher is served while the flooder would still be flooding, not only once it gave up (not a fixed 5 s
        // from the leecher's start: that failed once at load 13, with 7.6 s). The flood limit is the check below.
        let seconds = try await Self.firstPieceSeconds(image, port: port, name: "leecher", since: floodStarted)
        #expect(seconds < Self.floodSeconds, "first piece \(seconds) s after the flood began")
        try await withTimeout(Self.floodSeconds + 5) {
            while !closed.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(50)) }
        }
        let keepAlives = sent.withLockedValue { $0 }
        #expect(closed.withLockedValue { $0 }, "the flooder was closed after \(keepAlives) keep-alives")
        await seed.stop()
    }

    @Test func oneAddressGetsAtMostItsShareOfConnections() async throws {
        let image = try TestImage(size: 1 << 20, pieceLength: 64 << 10, seed: 183)
        let (seed, port) = try await Self.seed(image)
        var crowd: [RawPeer] = []
        for _ in 0..<20 {
            let peer = try RawPeer(port: port, from: "127.0.3.1")
            peer.handshake(infoHash: image.metainfo.infoHash.bytes, peerID: Array("-XX0000-".utf8) + randomID())
            crowd.append(peer)
        }
        // Every connection answered (a handshake, or closed as one too many), not a fixed 500 ms, which a loaded
        // machine can outrun: only then is the count final.
        let accepted = crowd.filter { $0.handshakeAnswered() }.count
        #expect(accepted == TorrentConfiguration().maxConnectionsPerHost)
        #expect(try await seed.progress().peers == TorrentConfiguration().maxConnectionsPerHost)
        // A different address still gets in.
        let other = try RawPeer(port: port, from: "127.0.3.2")
        other.handshake(infoHash: image.metainfo.infoHash.bytes)
        #expect(other.handshakeAnswered())
        await seed.stop()
    }

    /// How long the flooder keeps sending unless the seed closes its connection first.
    static let floodSeconds: Double = 30

    func randomID() -> [UInt8] { (0..<12).map { _ in UInt8.random(in: 0x61...0x7a) } }
}
