import Testing

@testable import Torrent

struct SuperSeederTests {
    @Test func everyPieceIsOfferedOnceAndNeverTwiceWhileItsOfferIsPending() {
        var generator = SwarmRandom(seed: 5)
        var seeder = SuperSeeder(pieceCount: 12)
        let none = Bitfield(count: 12)
        let availability = [Int](repeating: 0, count: 12)
        var offered: [Int] = []
        for _ in 0..<12 {
            if let index = seeder.next(peerHas: none, held: [], availability: availability, using: &generator) {
                offered.append(index)
            }
        }
        #expect(Set(offered).count == 12)
        // Every piece has an offer pending: nothing more to offer anyone.
        let more = seeder.next(peerHas: none, held: [], availability: availability, using: &generator)
        #expect(more == nil)
        // Delivered pieces that peers now have are not offered again either.
        for index in offered { seeder.delivered(index) }
        let everywhere = [Int](repeating: 1, count: 12)
        let again = seeder.next(peerHas: none, held: [], availability: everywhere, using: &generator)
        #expect(again == nil)
    }

    @Test func skipsWhatThePeerHasOrHoldsAndPrefersPiecesFewPeersHave() {
        var generator = SwarmRandom(seed: 5)
        var seeder = SuperSeeder(pieceCount: 4)
        var has = Bitfield(count: 4)
        has.insert(0)
        // Piece 1 is held by this peer; pieces 2 and 3 were never offered, 3 is on fewer peers.
        let first = seeder.next(peerHas: has, held: [1], availability: [5, 0, 2, 1], using: &generator)
        #expect(first == 3)
        let second = seeder.next(peerHas: has, held: [1, 3], availability: [5, 0, 2, 1], using: &generator)
        #expect(second == 2)
        let none = seeder.next(peerHas: has, held: [1, 2, 3], availability: [5, 0, 2, 1], using: &generator)
        #expect(none == nil)
    }

    @Test func aWithdrawnOfferOrALostCopyIsOfferedAgain() throws {
        var generator = SwarmRandom(seed: 5)
        var seeder = SuperSeeder(pieceCount: 2)
        let none = Bitfield(count: 2)
        let offers = [
            seeder.next(peerHas: none, held: [], availability: [0, 0], using: &generator),
            seeder.next(peerHas: none, held: [], availability: [0, 0], using: &generator),
        ]
        let first = try #require(offers[0])
        let second = try #require(offers[1])
        #expect(Set([first, second]) == [0, 1])
        // The peer holding `second` was choked or left: that piece is free again.
        seeder.withdrawn([second])
        let retry = seeder.next(peerHas: none, held: [], availability: [0, 0], using: &generator)
        #expect(retry == second)
        // `first` was delivered; while a connected peer has it, it is not offered again.
        seeder.delivered(first)
        var availability = [0, 0]
        availability[first] = 1
        let held = seeder.next(peerHas: none, held: [], availability: availability, using: &generator)
        #expect(held == nil)
        // The only peer with it left (availability 0): offer it again.
        availability[first] = 0
        let lost = seeder.next(peerHas: none, held: [], availability: availability, using: &generator)
        #expect(lost == first)
    }
}
