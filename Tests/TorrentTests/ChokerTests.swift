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
        let choker = Choker(regularSlots: 2)
        func candidate(_ key: UInt64, interested: Bool, choked: Bool) -> Choker.Candidate {
            Choker.Candidate(id: PeerKey(key), interested: interested, choked: choked, rate: 0)
        }
        // Two of three slots (two regular and the optimistic one) are taken: one more peer gets one.
        let busy = [
            candidate(1, interested: true, choked: false), candidate(2, interested: true, choked: false),
            candidate(5, interested: true, choked: true), candidate(3, interested: true, choked: true),
            candidate(4, interested: false, choked: true),
        ]
        #expect(choker.fill(busy) == [PeerKey(3)])
        // All three taken: nobody waits its turn ahead of the next round.
        let full = busy + [candidate(6, interested: true, choked: false)]
        #expect(choker.fill(full).isEmpty)
        // An unchoked peer that lost interest does not hold a slot.
        let freed = [candidate(1, interested: false, choked: false)] + busy.dropFirst()
        #expect(choker.fill(freed) == [PeerKey(3), PeerKey(5)])
    }
}
