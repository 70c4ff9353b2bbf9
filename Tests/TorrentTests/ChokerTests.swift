import LabSupport
import Testing

@testable import Torrent

struct ChokerTests {
    final class Token {}

    @Test func regularSlotsGoToTheFastestInterestedPeersPlusOneOptimistic() {
        let tokens = (0..<8).map { _ in Token() }
        let ids = tokens.map(ObjectIdentifier.init)
        defer { withExtendedLifetime(tokens) {} }
        let candidates = ids.enumerated().map { index, id in
            Choker.Candidate(id: id, interested: index != 7, rate: Double(index * 100))
        }
        var choker = Choker(regularSlots: 3)
        var generator = SplitMix64(seed: 3)
        let unchoked = choker.round(candidates, rotateOptimistic: true, using: &generator)
        #expect(unchoked.count == 4)
        #expect(unchoked.isSuperset(of: [ids[6], ids[5], ids[4]]))
        #expect(!unchoked.contains(ids[7]), "not interested")
        let optimistic = choker.optimistic
        #expect(optimistic.map { [ids[0], ids[1], ids[2], ids[3]].contains($0) } == true)
        // Without rotation the optimistic peer stays; rotation over many rounds visits the others.
        #expect(choker.round(candidates, rotateOptimistic: false, using: &generator).contains(optimistic ?? ids[0]))
        var seen: Set<ObjectIdentifier> = []
        for _ in 0..<50 {
            _ = choker.round(candidates, rotateOptimistic: true, using: &generator)
            if let id = choker.optimistic { seen.insert(id) }
        }
        #expect(seen == [ids[0], ids[1], ids[2], ids[3]])
    }
}
