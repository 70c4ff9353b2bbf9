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
