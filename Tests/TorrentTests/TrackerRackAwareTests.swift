import LabSupport
import Testing

@testable import Torrent

struct TrackerRackAwareTests {
    static let infoHash = [UInt8](repeating: 7, count: 20)

    static func id(_ number: Int) -> [UInt8] {
        Array("-XX0000-".utf8) + Array(String(format6(number)).utf8) + [UInt8](repeating: 0x30, count: 6)
    }

    static func format6(_ number: Int) -> String {
        let text = String(number)
        return String(repeating: "0", count: max(0, 6 - text.count)) + text
    }

    static func announce(
        _ tracker: inout Tracker, node: Int, left: Int64 = 100, rack: String? = nil,
        event: AnnounceRequest.Event? = nil,
        numWant: Int = 50, now: Double = 0
    ) throws -> AnnounceResponse {
        var generator = SplitMix64(seed: UInt64(node))
        let request = AnnounceRequest(
            infoHash: infoHash, peerID: id(node), port: 6000 + node, left: left, event: event, numWant: numWant,
            rack: rack
        )
        let body = tracker.announce(
            request, remoteHost: "10.0.\(node / 100).\(node % 100)", now: now, using: &generator)
        return try AnnounceResponse(bencoded: body)
    }

    @Test func sameRackFirstThenAFewFromOtherRacks() throws {
        var racks: [String: String] = [:]
        for node in 1...30 { racks["10.0.0.\(node)"] = node <= 10 ? "r1" : (node <= 20 ? "r2" : "r3") }
        var tracker = Tracker(configuration: TrackerConfiguration(maxPeers: 12, otherRackPeers: 3, racksByHost: racks))
        for node in 1...30 { _ = try Self.announce(&tracker, node: node) }
        let answer = try Self.announce(&tracker, node: 5, numWant: 12)
        #expect(answer.peers.count == 12)
        let rackOf = { (peer: PeerAddress) in racks[peer.host] }
        #expect(answer.peers.prefix(9).allSatisfy { rackOf($0) == "r1" })
        #expect(answer.peers.suffix(3).allSatisfy { rackOf($0) != "r1" })
        #expect(!answer.peers.contains(PeerAddress(host: "10.0.0.5", port: 6005)))
    }

    @Test func theServiceTakesNewRacksForLaterAnnounces() throws {
        // Nodes announce before any rack is known; then the map puts 1-9 in r1 and 10-11 in r2.
        let service = TrackerService(tracker: Tracker(configuration: TrackerConfiguration(maxPeers: 2,
                                                                                          otherRackPeers: 0)))
        func announce(_ node: Int) throws -> AnnounceResponse {
            let uri = "/announce?" + AnnounceRequest(infoHash: Self.infoHash, peerID: Self.id(node), port: 6000 + node,
                                                     left: 100, numWant: 2).query
            return try AnnounceResponse(bencoded: service.handle(uri: uri, remoteHost: "10.0.0.\(node)").body)
        }
        for node in 1...10 { _ = try announce(node) }
        var racks: [String: String] = [:]
        for node in 1...11 { racks["10.0.0.\(node)"] = node <= 9 ? "r1" : "r2" }
        service.updateRacks(racks, keepInRack: false)
        for node in 1...10 { _ = try announce(node) }
        // Node 11 (r2) hears of its rack's only other peer first, every time (1 in 10 by chance without racks).
        for _ in 1...3 {
            #expect(try announce(11).peers.first == PeerAddress(host: "10.0.0.10", port: 6010))
        }
    }

    @Test func theServiceSwitchesKeepInRackForLaterAnnounces() throws {
        // The site's `distribution.keepInRack`, applied at a pass: r1's node then hears of r1 only, and is told so.
        let service = TrackerService(tracker: Tracker(configuration: TrackerConfiguration(maxPeers: 10)))
        func announce(_ node: Int) throws -> AnnounceResponse {
            let uri = "/announce?" + AnnounceRequest(infoHash: Self.infoHash, peerID: Self.id(node), port: 6000 + node,
                                                     left: 100, numWant: 10).query
            return try AnnounceResponse(bencoded: service.handle(uri: uri, remoteHost: "10.0.0.\(node)").body)
        }
        var racks: [String: String] = [:]
        for node in 1...6 { racks["10.0.0.\(node)"] = node <= 3 ? "r1" : "r2" }
        service.updateRacks(racks, keepInRack: false)
        for node in 2...6 { _ = try announce(node) }
        let open = try announce(1)
        #expect(!open.keepInRack)
        #expect(open.peers.contains { (racks[$0.host] ?? "") == "r2" })
        service.updateRacks(racks, keepInRack: true)
        let kept = try announce(1)
        #expect(kept.keepInRack)
        #expect(Set(kept.peers.map(\.host)) == ["10.0.0.2", "10.0.0.3"])
        service.updateRacks(racks, keepInRack: false)
        #expect(try !announce(1).keepInRack)
    }

    @Test func rackKeyInTheAnnounceOverridesTheMap() throws {
        var tracker = Tracker(configuration: TrackerConfiguration(maxPeers: 3, otherRackPeers: 1))
        for node in 1...6 { _ = try Self.announce(&tracker, node: node, rack: node % 2 == 0 ? "even" : "odd") }
        let answer = try Self.announce(&tracker, node: 7, rack: "odd", numWant: 3)
        #expect(answer.peers.prefix(2).allSatisfy { (Int($0.host.split(separator: ".").last ?? "") ?? 0) % 2 == 1 })
        #expect(answer.peers.count == 3)
    }

    @Test func pinnedSeedAndSeedersAlwaysIncluded() throws {
        let seed = PeerAddress(host: "10.9.9.9", port: 7000)
        var tracker = Tracker(configuration: TrackerConfiguration(maxPeers: 4, otherRackPeers: 1, pinnedSeeds: [seed]))
        _ = try Self.announce(&tracker, node: 50, left: 0, rack: "r9")
        for node in 1...20 { _ = try Self.announce(&tracker, node: node, rack: "r1") }
        let answer = try Self.announce(&tracker, node: 21, rack: "r1", numWant: 4)
        #expect(answer.peers.first == seed)
        #expect(answer.peers.contains(PeerAddress(host: "10.0.0.50", port: 6050)))
        #expect(answer.complete == 1)
    }

    @Test func aLargeSwarmIsAnsweredByTheRulesAndTheSameSeedGivesTheSameAnswer() throws {
        // 2,000 peers in 100 racks of 20 (every 7th a seed): answers are drawn from the indices, not by sorting
        // the swarm, and must keep the rules: pinned seed, own rack with its seeds first, 3 others, seeds first.
        let seed = PeerAddress(host: "10.9.9.9", port: 7000)
        func build() throws -> Tracker {
            var tracker = Tracker(configuration: TrackerConfiguration(maxPeers: 30, pinnedSeeds: [seed]))
            for node in 1...2000 {
                _ = try Self.announce(&tracker, node: node, left: node % 7 == 0 ? 0 : 100, rack: "r\(node / 20)")
            }
            return tracker
        }
        var tracker = try build()
        var twin = try build()
        let rackOf = { (peer: PeerAddress) in (peer.port - 6000) / 20 }
        let isSeed = { (peer: PeerAddress) in (peer.port - 6000) % 7 == 0 }
        let answer = try Self.announce(&tracker, node: 45, rack: "r2", numWant: 30)
        #expect(try Self.announce(&twin, node: 45, rack: "r2", numWant: 30).peers == answer.peers)
        #expect(answer.complete == 2000 / 7 && answer.incomplete == 2000 - 2000 / 7)
        #expect(answer.peers.count == 30, "the seed, the 19 others of r2 (40…59 but 45), then other racks")
        #expect(answer.peers.first == seed)
        let own = Array(answer.peers.dropFirst().prefix(19))
        #expect(Set(own.map(rackOf)) == [2] && !own.contains { $0.port == 6045 })
        #expect(own.prefix(3).allSatisfy(isSeed) && !own.dropFirst(3).contains(where: isSeed), "42, 49, 56 first")
        let others = answer.peers.suffix(10)
        #expect(others.allSatisfy { rackOf($0) != 2 && isSeed($0) }, "282 other seeds come before any leech")
        // Another peer's draw picks other peers from other racks.
        let neighbour = try Self.announce(&tracker, node: 41, rack: "r2", numWant: 30)
        #expect(Set(neighbour.peers.suffix(10)) != Set(others))
        let done = try Self.announce(&tracker, node: 45, left: 0, rack: "r2", event: .completed, numWant: 30)
        #expect(done.complete == 2000 / 7 + 1)
        // Without a rack, everyone is "another rack": seeds first (286 + 1), all 29 wanted after the pinned seed.
        let rackless = try Self.announce(&tracker, node: 3000, numWant: 30)
        #expect(rackless.peers.count == 30 && rackless.peers.dropFirst().allSatisfy(isSeed))
        // A stopped peer leaves the pools: r2 asked again lists 18 of its own.
        _ = try Self.announce(&tracker, node: 46, rack: "r2", event: .stopped)
        let fewer = try Self.announce(&tracker, node: 47, rack: "r2", numWant: 30)
        #expect(fewer.peers.dropFirst().prefix(19).filter { rackOf($0) == 2 }.count == 18)
        #expect(!fewer.peers.contains(PeerAddress(host: "10.0.0.46", port: 6046)))
    }

    @Test func stoppedAndExpiredPeersLeave() throws {
        var tracker = Tracker(configuration: TrackerConfiguration(interval: 10))
        _ = try Self.announce(&tracker, node: 1, now: 0)
        _ = try Self.announce(&tracker, node: 2, now: 0)
        _ = try Self.announce(&tracker, node: 2, event: .stopped, now: 1)
        #expect(try Self.announce(&tracker, node: 3, now: 2).peers == [PeerAddress(host: "10.0.0.1", port: 6001)])
        #expect(try Self.announce(&tracker, node: 4, now: 100).peers.isEmpty)
    }

    @Test func scrapeAndHTTPRouting() throws {
        var tracker = Tracker()
        var generator = SplitMix64(seed: 1)
        _ = try Self.announce(&tracker, node: 1, left: 0)
        _ = try Self.announce(&tracker, node: 2, left: 5)
        let uri = "/scrape?info_hash=" + URLQuery.percentEncode(Self.infoHash)
        let (status, body) = tracker.handle(uri: uri, remoteHost: "10.0.0.1", now: 0, using: &generator)
        #expect(status == 200)
        let files = try BencodeDecoder.decode(body)["files"]
        let entry = try #require(files?[String(decoding: Self.infoHash, as: UTF8.self)])
        #expect(entry["complete"]?.integerValue == 1)
        #expect(entry["incomplete"]?.integerValue == 1)
        #expect(tracker.handle(uri: "/nope", remoteHost: "x", now: 0, using: &generator).status == 404)
        let bad = tracker.handle(uri: "/announce?port=1", remoteHost: "x", now: 0, using: &generator)
        #expect(throws: TorrentError.self) { try AnnounceResponse(bencoded: bad.body) }
    }

    @Test func announceQueryRoundTrips() {
        let request = AnnounceRequest(
            infoHash: (0..<20).map { UInt8($0 * 13) }, peerID: Array("-RS0100-%&=+ 0123456".utf8), port: 6881,
            uploaded: 1, downloaded: 2, left: 3, event: .started, numWant: 9, rack: "rack a"
        )
        #expect(AnnounceRequest(query: request.query) == request)
    }

    @Test func loopbackAnnouncesAreOnlyGivenToTheSameHost() throws {
        var tracker = Tracker()
        var generator = SplitMix64(seed: 2)
        let local = AnnounceRequest(infoHash: Self.infoHash, peerID: Self.id(90), port: 6881, left: 0)
        _ = tracker.announce(local, remoteHost: "127.0.0.1", now: 0, using: &generator)
        let fromRemote = try Self.announce(&tracker, node: 1)
        #expect(fromRemote.peers.isEmpty)
        let alsoLocal = AnnounceRequest(infoHash: Self.infoHash, peerID: Self.id(91), port: 6882, left: 5)
        let body = tracker.announce(alsoLocal, remoteHost: "127.0.0.1", now: 0, using: &generator)
        #expect(try AnnounceResponse(bencoded: body).peers.contains(PeerAddress(host: "127.0.0.1", port: 6881)))
    }
}
