import Foundation
import LabSupport
import Testing

@testable import Torrent

/// Rack locality (issue 21, section 4): the tracker's `keep in rack` answers and the engine's import rule.
struct RackLocalityTests {
    static let infoHash = [UInt8](repeating: 9, count: 20)

    static func announce(_ tracker: inout Tracker, node: Int, rack: String?, left: Int64 = 100) throws
        -> AnnounceResponse
    {
        var generator = SplitMix64(seed: UInt64(node))
        let peerID = Array("-XX0000-".utf8) + [UInt8](repeating: UInt8(48 + node % 10), count: 12)
        let request = AnnounceRequest(infoHash: infoHash, peerID: peerID, port: 6000 + node, left: left, rack: rack)
        return try AnnounceResponse(
            bencoded: tracker.announce(request, remoteHost: "10.0.0.\(node)", now: 0, using: &generator))
    }

    @Test func keptInRackAnAnswerNamesTheCoreSeedsAndTheRackOnly() throws {
        let pinned = PeerAddress(host: "10.9.9.9", port: 7000)
        for keep in [false, true] {
            var tracker = Tracker(
                configuration: TrackerConfiguration(otherRackPeers: 3, pinnedSeeds: [pinned], keepInRack: keep))
            _ = try Self.announce(&tracker, node: 1, rack: nil, left: 0)  // a seed on the core
            _ = try Self.announce(&tracker, node: 2, rack: nil)  // a leech in no rack
            for node in 3...12 { _ = try Self.announce(&tracker, node: node, rack: node <= 6 ? "r1" : "r2") }
            let answer = try Self.announce(&tracker, node: 3, rack: "r1")
            let r1 = Set((4...6).map { PeerAddress(host: "10.0.0.\($0)", port: 6000 + $0) })
            #expect(answer.peers.first == pinned)
            #expect(Set(answer.rackPeers) == r1, "the answer says which peers share the rack")
            #expect(answer.keepInRack == keep)
            let others = Set(answer.peers).subtracting(r1).subtracting([pinned])
            if keep {
                #expect(others == [PeerAddress(host: "10.0.0.1", port: 6001)], "only the core's seeds besides")
            } else {
                #expect(others.count >= 3, "other racks fill the answer: \(others)")
            }
        }
        // A node in no rack gets no rack keys and everyone, whatever the setting.
        var tracker = Tracker(configuration: TrackerConfiguration(keepInRack: true))
        for node in 3...6 { _ = try Self.announce(&tracker, node: node, rack: node <= 4 ? "r1" : "r2") }
        let unracked = try Self.announce(&tracker, node: 2, rack: nil)
        #expect(unracked.peers.count == 4 && unracked.rackPeers.isEmpty && !unracked.keepInRack)
    }

    @Test func theFirstAnswerNamesEveryConfiguredHostOfTheRequestersRack() throws {
        var racks: [String: String] = [:]
        for node in 3...8 { racks["10.0.0.\(node)"] = node <= 5 ? "r1" : "r2" }
        var tracker = Tracker(configuration: TrackerConfiguration(racksByHost: racks))
        // The first to announce: no rack mate has announced, and the answer still names them all.
        let first = try Self.announce(&tracker, node: 4, rack: nil)
        #expect(first.peers.isEmpty && first.rackPeers.isEmpty)
        #expect(first.rackHosts == ["10.0.0.3", "10.0.0.4", "10.0.0.5"])
        let other = try Self.announce(&tracker, node: 7, rack: nil)
        #expect(other.rackHosts == ["10.0.0.6", "10.0.0.7", "10.0.0.8"])
        let unracked = try Self.announce(&tracker, node: 2, rack: nil)
        #expect(unracked.rackHosts.isEmpty, "a node in no rack gets no rack hosts")
    }

    /// Bytes a swarm of our leechers moved between racks, and through each rack's uplink (both ways), over F.
    struct RackTraffic {
        var betweenRacks: Double
        var perRack: [String: Double]
    }

    /// A slow seed on 127.0.0.1 (the core) and two racks of `perRack` of our leechers on 127.0.0.2…, through our
    /// tracker, which knows every host's rack (as the reconciler's does); each leecher names its rack too.
    static func rackSwarm(keep: Bool, preference: Bool, perRack: Int, superSeed: Bool) async throws -> RackTraffic {
        let hosts = (0..<2 * perRack).map { "127.0.0.\($0 + 2)" }
        let rackOf = { (host: String) -> String? in
            hosts.firstIndex(of: host).map { $0 < perRack ? "r1" : "r2" }
        }
        var racks: [String: String] = [:]
        for host in hosts { racks[host] = rackOf(host) }
        let tracker = try await TestTracker.start(
            TrackerConfiguration(interval: 2, racksByHost: racks, keepInRack: keep))
        // 64 pieces: a member's last piece or two may come in twice (its share done, it takes one another member
        // has in flight), which is a few percent here and less for a real image.
        let size = 8 << 20
        let image = try TestImage(size: size, pieceLength: 128 << 10, announce: tracker.url, seed: 211)
        let seed = try await image.startSeed(
            TorrentConfiguration(listenHost: "127.0.0.1", uploadLimit: 4 << 20, superSeed: superSeed),
            tracker: tracker)
        let (leechers, targets) = try await image.startLeechers(hosts) {
            TorrentConfiguration(listenHost: hosts[$0], rack: rackOf(hosts[$0]), rackPreference: preference)
        }
        let all = leechers
        do {
            try await withTimeout(120) {
                for leecher in all { try await leecher.waitUntilComplete() }
            }
        } catch {
            let state = await swarmState(seed: seed, leechers: leechers, names: hosts)
            Issue.record("swarm did not complete: \(error)\n\(state)")
        }
        var received: [String: [String: Int64]] = [:]  // to host ← from host
        for (index, leecher) in leechers.enumerated() {
            received[hosts[index]] = try await leecher.progress().downloadedByHost
        }
        for leecher in leechers { await leecher.stop() }
        await seed.stop()
        await tracker.stop()
        for target in targets { #expect(filesEqual(image.imagePath, target)) }
        var uplink: [String: Int64] = [:]  // bytes through each rack's uplink, both ways
        var betweenRacks: Int64 = 0
        for (host, sources) in received {
            for (source, bytes) in sources where rackOf(source) != rackOf(host) {
                if let rack = rackOf(host) { uplink[rack, default: 0] += bytes }
                if let rack = rackOf(source) {
                    uplink[rack, default: 0] += bytes
                    betweenRacks += bytes
                }
            }
        }
        return RackTraffic(
            betweenRacks: Double(betweenRacks) / Double(size), perRack: uplink.mapValues { Double($0) / Double(size) })
    }

    /// Two racks of two leechers. Without `keepInRack` (and without the rack preference) the racks trade with
    /// each other; with it, every piece enters each rack about once, from the seed, and nothing crosses between
    /// the racks.
    @Test(arguments: [false, true])
    func keptInRackEachPieceEntersARackAboutOnce(keep: Bool) async throws {
        let traffic = try await Self.rackSwarm(keep: keep, preference: keep, perRack: 2, superSeed: false)
        if keep {
            #expect(traffic.betweenRacks == 0, "F between racks: \(traffic.betweenRacks)")
            for (rack, over) in traffic.perRack { #expect(over <= 1.2, "rack \(rack): \(over) F through its uplink") }
        } else {
            // The control: the same swarm, racks unkept, trades across racks.
            #expect(traffic.betweenRacks > 0, "racks traded nothing: \(traffic.perRack)")
        }
    }

    /// `rackPreference` when the tracker names racks: a super-seed on the core (each piece leaves it once) and two
    /// racks of three leechers that prefer their rack. Each piece crosses between the racks about once (the seed
    /// put it in one rack, the other needs it), where leechers without the preference fetch it across the racks
    /// from whoever has it, member by member (the control). Measured: 1.20–1.27 F with it, 2.98–3.05 F without.
    @Test(arguments: [false, true])
    func preferringTheRackEachPieceCrossesBetweenRacksAboutOnce(preference: Bool) async throws {
        let traffic = try await Self.rackSwarm(keep: false, preference: preference, perRack: 3, superSeed: true)
        if preference {
            #expect(traffic.betweenRacks <= 2.0, "F between racks: \(traffic.betweenRacks), \(traffic.perRack)")
        } else {
            #expect(traffic.betweenRacks > 2.0, "F between racks: \(traffic.betweenRacks), \(traffic.perRack)")
        }
    }
}
