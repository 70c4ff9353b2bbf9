import LabSupport
import Testing

@testable import Torrent

struct ChokerTests {
    @Test func regularSlotsGoToTheFastestInterestedPeersPlusOneOptimistic() {
        let ids = (0..<8).map { PeerKey(UInt64($0)) }
        let candidates = ids.enumerated().map { index, id in
            Choker.Candidate(id: id, interested: index != 7, rate: Double(index * 100))
        }
        var choker = Choker(regularSlots: 3)
        var generator = SwarmRandom(seed: 3)
        let unchoked = choker.round(candidates, rotateOptimistic: true, using: &generator)
        #expect(unchoked.count == 4)
        #expect(unchoked.isSuperset(of: [ids[6], ids[5], ids[4]]))
        #expect(!unchoked.contains(ids[7]), "not interested")
        let optimistic = choker.optimistic
        #expect(optimistic.map { [ids[0], ids[1], ids[2], ids[3]].contains($0) } == true)
        // Without rotation the optimistic peer stays; rotation over many rounds visits the others.
        #expect(choker.round(candidates, rotateOptimistic: false, using: &generator).contains(optimistic ?? ids[0]))
        var seen: Set<PeerKey> = []
        for _ in 0..<50 {
            _ = choker.round(candidates, rotateOptimistic: true, using: &generator)
            if let id = choker.optimistic { seen.insert(id) }
        }
        #expect(seen == [ids[0], ids[1], ids[2], ids[3]])
    }

    @Test func theOptimisticSlotGoesToThePeerFurthestBehind() {
        // 20 busy peers trade fast and hold 300 pieces or more; a returner (id 20) uploads a little to each and
        // holds 40. The regular slots stay rate-ranked; the optimistic one goes to the returner at every rotation.
        let ids = (0..<21).map { PeerKey(UInt64($0)) }
        var candidates = ids.dropLast().enumerated().map { index, id in
            Choker.Candidate(id: id, interested: true, rate: Double(200 + index * 10), pieces: 300 + index)
        }
        candidates.append(Choker.Candidate(id: ids[20], interested: true, rate: 50, pieces: 40))
        var choker = Choker(regularSlots: 16)
        var generator = SwarmRandom(seed: 7)
        for _ in 0..<20 {
            let unchoked = choker.round(candidates, rotateOptimistic: true, using: &generator)
            #expect(unchoked.isSuperset(of: ids[4..<20]))
            #expect(choker.optimistic == ids[20])
        }
        // Once it has caught up past the slowest busy peer, the slot moves to that one.
        candidates[20].pieces = 305
        _ = choker.round(candidates, rotateOptimistic: true, using: &generator)
        #expect(choker.optimistic == ids[0])
    }

    @Test func aPeerBehindEveryServedPeerGetsOneMoreSlotUntilTheNextRound() {
        // Every slot (2 regular and 1 optimistic) is taken by peers holding 50, 60 and 70 pieces.
        var choker = Choker(regularSlots: 2)
        for key in 1...3 { choker.update(PeerKey(UInt64(key)), handshaken: true, interested: true, choked: false) }
        var serving: [PeerKey: Int] = [PeerKey(1): 50, PeerKey(2): 60, PeerKey(3): 70]
        // A peer with 50 pieces is not behind all of them; one back from a crash with 12 is.
        let admitted1 = choker.admitBehind(PeerKey(4), pieces: 50) { serving[$0] }
        #expect(!admitted1)
        let admitted2 = choker.admitBehind(PeerKey(5), pieces: 12) { serving[$0] }
        #expect(admitted2)
        choker.update(PeerKey(5), handshaken: true, interested: true, choked: false)
        serving[PeerKey(5)] = 12
        // A second one behind the usual slots gets one too, though not behind the first; a third does not.
        let admitted3 = choker.admitBehind(PeerKey(6), pieces: 30) { serving[$0] }
        #expect(admitted3)
        choker.update(PeerKey(6), handshaken: true, interested: true, choked: false)
        serving[PeerKey(6)] = 30
        let admitted4 = choker.admitBehind(PeerKey(7), pieces: 0) { serving[$0] }
        #expect(!admitted4, "at most two such slots")
        #expect(choker.behind == [PeerKey(5), PeerKey(6)])
        // A round ranks 3 and 2 in the regular slots, gives the optimistic one to the peer furthest behind, and
        // keeps the two slots for 6 and 1, behind both regular peers.
        var generator = SwarmRandom(seed: 1)
        let candidates = serving.map { key, pieces in
            Choker.Candidate(id: key, interested: true, choked: false, rate: Double(pieces), pieces: pieces)
        }
        let unchoked = choker.round(candidates, rotateOptimistic: true, using: &generator)
        #expect(choker.optimistic == PeerKey(5))
        #expect(unchoked == [PeerKey(3), PeerKey(2), PeerKey(5), PeerKey(6), PeerKey(1)])
        #expect(choker.behind == [PeerKey(6), PeerKey(1)])
        // Not while a slot is free: `fill` gives it.
        choker.update(PeerKey(1), handshaken: true, interested: false, choked: false)
        choker.update(PeerKey(6), handshaken: true, interested: true, choked: true)
        choker.update(PeerKey(5), handshaken: true, interested: true, choked: true)
        let admitted5 = choker.admitBehind(PeerKey(7), pieces: 0) { [PeerKey(2): 60, PeerKey(3): 70][$0] }
        #expect(!admitted5)
    }

    @Test func aRoundKeepsSlotsForPeersStillBehindTheRegularOnes() {
        // 4 regular slots at 100 pieces or more; three returners at 10, 20 and 30 and a peer at 90 outside them.
        var candidates = (0..<4).map {
            Choker.Candidate(id: PeerKey(UInt64($0)), interested: true, rate: 500, pieces: 100 + $0)
        }
        for (key, pieces) in [(10, 10), (11, 20), (12, 30), (13, 90)] {
            candidates.append(Choker.Candidate(id: PeerKey(UInt64(key)), interested: true, rate: 10, pieces: pieces))
        }
        var choker = Choker(regularSlots: 4)
        var generator = SwarmRandom(seed: 5)
        let unchoked = choker.round(candidates, rotateOptimistic: true, using: &generator)
        // The optimistic slot takes the furthest behind, the next two keep one each; 90 waits its turn.
        #expect(choker.optimistic == PeerKey(10))
        #expect(choker.behind == [PeerKey(11), PeerKey(12)])
        #expect(unchoked == Set((0..<4).map { PeerKey(UInt64($0)) } + [PeerKey(10), PeerKey(11), PeerKey(12)]))
        // Caught up past the slowest regular peer: no slot beyond the usual ones.
        for index in 4..<7 { candidates[index].pieces = 101 }
        _ = choker.round(candidates, rotateOptimistic: true, using: &generator)
        #expect(choker.behind.isEmpty)
    }

    @Test func aFreedSlotIsFilledAtOnceInConnectionOrder() {
        var choker = Choker(regularSlots: 2)
        func note(_ key: UInt64, interested: Bool, choked: Bool, handshaken: Bool = true) {
            choker.update(PeerKey(key), handshaken: handshaken, interested: interested, choked: choked)
        }
        // Two of three slots (two regular and the optimistic one) are taken: one more peer gets one.
        note(1, interested: true, choked: false)
        note(2, interested: true, choked: false)
        note(5, interested: true, choked: true)
        note(3, interested: true, choked: true)
        note(4, interested: false, choked: true)
        note(7, interested: true, choked: true, handshaken: false)
        #expect(choker.fill() == [PeerKey(3)])
        // All three taken: nobody waits its turn ahead of the next round.
        note(6, interested: true, choked: false)
        #expect(choker.fill().isEmpty)
        // An unchoked peer that lost interest does not hold a slot, nor one that left.
        note(1, interested: false, choked: false)
        choker.forget(PeerKey(6))
        #expect(choker.fill() == [PeerKey(3), PeerKey(5)])
        // Unchoking them fills the slots again; a peer that left no longer waits.
        note(3, interested: true, choked: false)
        note(5, interested: true, choked: false)
        #expect(choker.fill().isEmpty)
        choker.forget(PeerKey(2))
        #expect(choker.fill().isEmpty, "7 is not handshaken, 4 not interested")
        note(7, interested: true, choked: true)
        #expect(choker.fill() == [PeerKey(7)])
    }
}
