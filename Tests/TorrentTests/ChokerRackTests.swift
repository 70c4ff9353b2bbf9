import NIOCore
import Testing

@testable import Torrent

/// Upload slots while the rack rule is on (issue 21, section 4): rack peers first, one regular slot kept outside.
struct ChokerRackTests {
    /// Four rack peers (ids 0–3, slow: 10–40) and four peers of other racks (ids 4–7, fast: 100–400); the peer
    /// furthest behind (id 0) takes the optimistic slot.
    static func candidates(rackInterested: Int = 4) -> [Choker.Candidate] {
        var candidates: [Choker.Candidate] = []
        for index in 0..<4 {
            let rate = Double(10 + index * 10)
            let pieces = index == 0 ? 1 : 50
            candidates.append(
                Choker.Candidate(
                    id: PeerKey(UInt64(index)), interested: index < rackInterested, rate: rate, pieces: pieces,
                    sameRack: true))
        }
        for index in 0..<4 {
            let rate = Double(100 + index * 100)
            candidates.append(Choker.Candidate(id: PeerKey(UInt64(4 + index)), interested: true, rate: rate, pieces: 50))
        }
        return candidates
    }

    @Test func rackPeersTakeTheRegularSlotsButTheFastestPeerOutsideKeepsOne() {
        var choker = Choker(regularSlots: 3)
        var generator = SwarmRandom(seed: 1)
        let unchoked = choker.round(Self.candidates(), rotateOptimistic: true, using: &generator)
        // Regular: the fastest outside (7), then the fastest rack peers (3, 2), though 6 and 5 are faster.
        #expect(choker.optimistic == PeerKey(0))
        #expect(unchoked == [PeerKey(7), PeerKey(3), PeerKey(2), PeerKey(0)])
        // The same peers without the rule (nobody marked in the rack): the rate order, as before.
        let plain = Self.candidates().map { candidate in
            var candidate = candidate
            candidate.sameRack = false
            return candidate
        }
        var unranked = Choker(regularSlots: 3)
        #expect(unranked.round(plain, rotateOptimistic: true, using: &generator) == Set([7, 6, 5, 0].map(PeerKey.init)))
    }

    @Test func aRegularSlotNoRackPeerWantsGoesToTheNextPeerOutsideByRate() {
        // Only rack peer 0 is interested: it and the two fastest outside (7, then 6) get the regular slots, and one
        // of the other two outside the optimistic one, so the upload does not idle.
        var choker = Choker(regularSlots: 3)
        var generator = SwarmRandom(seed: 2)
        let unchoked = choker.round(Self.candidates(rackInterested: 1), rotateOptimistic: true, using: &generator)
        #expect(unchoked.count == 4 && unchoked.isSuperset(of: [PeerKey(7), PeerKey(0), PeerKey(6)]))
        #expect(choker.optimistic.map { [PeerKey(4), PeerKey(5)].contains($0) } == true)
    }

    @Test func theOrderWithinEachClassIsTheRateOrder() {
        let byRate = Self.candidates().sorted { $0.rate > $1.rate }
        #expect(Choker.rackFirst(byRate).map(\.id.value) == [7, 3, 2, 1, 0, 6, 5, 4])
        let outsideOnly = byRate.filter { !$0.sameRack }
        #expect(Choker.rackFirst(outsideOnly).map(\.id) == outsideOnly.map(\.id))
    }

    @Test func aFreedSlotGoesToAWaitingRackPeerFirst() {
        var choker = Choker(regularSlots: 2)
        choker.update(PeerKey(1), handshaken: true, interested: true, choked: false)
        for key in [3, 5, 4, 6] as [UInt64] {
            choker.update(PeerKey(key), handshaken: true, interested: true, choked: true)
        }
        let rack: Set<PeerKey> = [PeerKey(5), PeerKey(6)]
        #expect(choker.fill() == [PeerKey(3), PeerKey(4)], "connection order without the rule")
        #expect(choker.fill(rackFirst: true, inRack: rack.contains) == [PeerKey(5), PeerKey(6)])
        // With one rack peer waiting, the other slot goes to the first outside in connection order.
        choker.update(PeerKey(6), handshaken: true, interested: false, choked: true)
        #expect(choker.fill(rackFirst: true, inRack: rack.contains) == [PeerKey(5), PeerKey(3)])
    }
}

/// The wiring (`SwarmDriver`): the choker sees rack peers as such only while the rack rule is on.
struct RackSlotWiringTests {
    /// A driver with no wire: it records nothing and asks for nothing, so only its choking state is looked at.
    final class SlotDriver: SwarmDriver {
        var peers: [PeerKey: PeerState] = [:] { didSet { connectionOrder.invalidate() } }
        var connectionOrder = ConnectionOrder<PeerState>()
        var have = Bitfield(count: 8)
        var configuration = TorrentConfiguration()
        var scheduler: RequestScheduler
        var choker = Choker(regularSlots: 2)
        var offers: SuperSeedOffers?
        var timeouts = PeerTimeouts()
        var dialer = DialBackoff()
        var rack = RackLocality(pieceCount: 8)
        var random = SwarmRandom(seed: 1)
        var chokeRounds = 0
        var ticks = 0
        let currentTime = NIODeadline.uptimeNanoseconds(0)

        init(rackPreference: Bool) {
            configuration.rackPreference = rackPreference
            let picker = PiecePicker(pieceCount: 8, pieceLength: 1 << 14, totalLength: 8 << 14)
            scheduler = RequestScheduler(picker: picker, minQueue: 4, maxQueue: 8, horizon: 0.3, startedAt: currentTime)
        }

        func signal(_ signal: DriverSignal, to peer: PeerState) {}
        func drop(_ peer: PeerState, _ reason: String) {}
        func requestBlocks(_ peer: PeerState) {}

        /// An interested peer at `host` that sent us `bytes` in the last second and holds `pieces` pieces.
        @discardableResult
        func connect(_ key: UInt64, host: String, bytes: Int, pieces: Int) -> PeerState {
            let peer = PeerState(
                key: PeerKey(key), outgoing: true, address: "\(host):6881", host: host, pieceCount: 8, now: currentTime)
            for index in 0..<pieces { peer.has.insert(index) }
            peer.download.add(bytes)
            peer.download.tick()
            peers[peer.key] = peer
            handshaken(peer)
            peerInterest(peer, true)
            return peer
        }
    }

    /// Peers 1–3 in other racks (fast; 3 holds one piece, so it takes the optimistic slot), 4 and 5 in ours (slow).
    static func swarm(rackPreference: Bool) -> SlotDriver {
        let driver = SlotDriver(rackPreference: rackPreference)
        driver.learnRack(["10.0.0.4", "10.0.0.5"], keep: false)
        driver.connect(1, host: "10.1.0.1", bytes: 400, pieces: 5)
        driver.connect(2, host: "10.1.0.2", bytes: 300, pieces: 5)
        driver.connect(3, host: "10.1.0.3", bytes: 200, pieces: 1)
        driver.connect(4, host: "10.0.0.4", bytes: 100, pieces: 5)
        driver.connect(5, host: "10.0.0.5", bytes: 0, pieces: 5)
        driver.chokeRound(rotate: true)
        return driver
    }

    static func unchoked(_ driver: SlotDriver) -> Set<UInt64> {
        Set(driver.peers.values.filter { !$0.amChoking }.map(\.key.value))
    }

    @Test func withTheRuleTheRoundAndAFreedSlotGoToRackPeersFirst() throws {
        let driver = Self.swarm(rackPreference: true)
        // Regular: the fastest outside (1) and the fastest rack peer (4); optimistic: 3, furthest behind.
        #expect(Self.unchoked(driver) == [1, 4, 3])
        // 1 loses interest: its slot goes to rack peer 5, not to 2, which connected first.
        driver.peerInterest(try #require(driver.peers[PeerKey(1)]), false)
        #expect(Self.unchoked(driver) == [1, 4, 3, 5], "1 keeps its unchoke until the next round")
    }

    @Test func withoutTheRuleTheOrderIsTheRateOrder() throws {
        let driver = Self.swarm(rackPreference: false)
        #expect(Self.unchoked(driver) == [1, 2, 3])
        driver.peerInterest(try #require(driver.peers[PeerKey(1)]), false)
        #expect(Self.unchoked(driver) == [1, 2, 3, 4], "connection order: 4 before 5")
    }
}
