import Logging
import NIOCore
import NIOPosix
import Testing

@testable import Torrent

/// The tracker against announces that lie about their address, name no port, track random info-hashes, or stop
/// announcing: fed to the real `Tracker`, and through the real HTTP server.
struct TrackerHostileTests {
    static let known = [UInt8](repeating: 7, count: 20)

    static func request(_ node: Int, port: Int? = nil, ip: String? = nil, hash: [UInt8] = known) -> AnnounceRequest {
        AnnounceRequest(
            infoHash: hash, peerID: TrackerRackAwareTests.id(node), port: port ?? 6000 + node, left: 10, ip: ip)
    }

    static func answer(_ tracker: inout Tracker, _ request: AnnounceRequest, from host: String, now: Double = 0)
        throws -> AnnounceResponse
    {
        var generator = SwarmRandom(seed: 1)
        return try AnnounceResponse(
            bencoded: tracker.announce(request, remoteHost: host, now: now, using: &generator))
    }

    static func failure(_ tracker: inout Tracker, _ request: AnnounceRequest, from host: String) -> String? {
        do {
            _ = try answer(&tracker, request, from: host)
            return nil
        } catch {
            return (error as? TorrentError)?.detail
        }
    }

    @Test func theAddressComesFromTheConnectionNeverFromIP() throws {
        var tracker = Tracker(configuration: TrackerConfiguration(allowedInfoHashes: [Self.known]))
        // Before: `ip=` was handed to every other peer, so nodes could be aimed at any host.
        _ = try Self.answer(&tracker, Self.request(1, ip: "203.0.113.9"), from: "10.0.0.1")
        _ = try Self.answer(&tracker, Self.request(2, ip: "victim.example"), from: "10.0.0.2")
        let seen = try Self.answer(&tracker, Self.request(3), from: "10.0.0.3").peers
        #expect(Set(seen) == [PeerAddress(host: "10.0.0.1", port: 6001), PeerAddress(host: "10.0.0.2", port: 6002)])
    }

    @Test func portZeroAndUnknownInfoHashesAreRefusedAndLeaveNoState() throws {
        var tracker = Tracker(configuration: TrackerConfiguration(allowedInfoHashes: [Self.known]))
        let zero = Self.failure(&tracker, Self.request(1, port: 0), from: "10.0.0.1")
        #expect(zero?.contains("port 0") == true)
        var random = SwarmRandom(seed: 18)
        for node in 0..<20_000 {
            let hash = (0..<20).map { _ in UInt8.random(in: 0...255, using: &random) }
            let refused = Self.failure(&tracker, Self.request(node % 1000, hash: hash), from: "10.0.0.9")
            if node == 0 { #expect(refused?.contains("not one this tracker serves") == true) }
        }
        #expect(tracker.peerCount == 0, "20k random info-hashes were kept before")
        // A new commit's images: the old swarm goes, the new one is tracked.
        let next = [UInt8](repeating: 8, count: 20)
        tracker.allow([next])
        #expect(Self.failure(&tracker, Self.request(1), from: "10.0.0.1") != nil)
        _ = try Self.answer(&tracker, Self.request(1, hash: next), from: "10.0.0.1")
        #expect(tracker.peerCount == 1)
    }

    @Test func peersThatStopAnnouncingExpireInEverySwarmAndOneAddressHoldsFewEntries() throws {
        let other = [UInt8](repeating: 9, count: 20)
        var tracker = Tracker(
            configuration: TrackerConfiguration(interval: 10, allowedInfoHashes: [Self.known, other]))
        _ = try Self.answer(&tracker, Self.request(1), from: "10.0.0.1", now: 0)
        _ = try Self.answer(&tracker, Self.request(2, hash: other), from: "10.0.0.2", now: 0)
        #expect(tracker.peerCount == 2)
        // Nothing more from either for three intervals: an announce to any swarm sweeps both.
        _ = try Self.answer(&tracker, Self.request(3), from: "10.0.0.3", now: 31)
        #expect(tracker.peerCount == 1)
        // New peer ids from one address replace entries per port, and the ports per address are capped.
        for index in 0..<40 {
            _ = try? Self.answer(&tracker, Self.request(100 + index, port: 7000 + index % 30), from: "10.0.0.4", now: 32)
        }
        #expect(tracker.peerCount == 1 + TrackerConfiguration().maxEntriesPerHost)
    }

    @Test func overHTTPTheConnectionsAddressIsWhatOthersGet() async throws {
        let service = TrackerService(
            tracker: Tracker(configuration: TrackerConfiguration(allowedInfoHashes: [Self.known])))
        let running = try await TrackerHTTPServer.start(
            service: service, host: "127.0.0.1", port: 0, logger: Logger(label: "tracker"))
        let url = "http://127.0.0.1:\(running.port)/announce"
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        _ = try await TrackerClient.announce(url: url, request: Self.request(1, ip: "198.51.100.7"), on: loop).get()
        let answer = try await TrackerClient.announce(url: url, request: Self.request(2), on: loop).get()
        let stranger = Self.request(3, hash: [UInt8](repeating: 1, count: 20))
        let unknown = TrackerClient.announce(url: url, request: stranger, on: loop)
        await #expect(throws: TorrentError.self) { try await unknown.get() }
        await running.stop()
        #expect(answer.peers == [PeerAddress(host: "127.0.0.1", port: 6001)])
    }
}
