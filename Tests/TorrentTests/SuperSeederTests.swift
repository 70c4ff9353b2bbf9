import Testing

@testable import Torrent

struct SuperSeederTests {
    @Test func everyPieceIsOfferedOnceAndNeverTwiceWhileItsOfferIsPending() throws {
        var seeder = SuperSeeder(pieceCount: 12)
        let none = Bitfield(count: 12)
        let availability = [Int](repeating: 0, count: 12)
        var offered: [Int] = []
        for _ in 0..<12 {
            offered.append(try #require(seeder.next(peerHas: none, held: [], availability: availability)))
        }
        #expect(Set(offered).count == 12)
        // Every piece has an offer pending: nothing more to offer anyone.
        #expect(seeder.next(peerHas: none, held: [], availability: availability) == nil)
        // Delivered pieces that peers now have are not offered again either.
        for index in offered { seeder.delivered(index) }
        #expect(seeder.next(peerHas: none, held: [], availability: [Int](repeating: 1, count: 12)) == nil)
    }

    @Test func skipsWhatThePeerHasOrHoldsAndPrefersPiecesFewPeersHave() {
        var seeder = SuperSeeder(pieceCount: 4)
        var has = Bitfield(count: 4)
        has.insert(0)
        // Piece 1 is held by this peer; pieces 2 and 3 were never offered, 3 is on fewer peers.
        #expect(seeder.next(peerHas: has, held: [1], availability: [5, 0, 2, 1]) == 3)
        #expect(seeder.next(peerHas: has, held: [1, 3], availability: [5, 0, 2, 1]) == 2)
        #expect(seeder.next(peerHas: has, held: [1, 2, 3], availability: [5, 0, 2, 1]) == nil)
    }

    @Test func aWithdrawnOfferOrALostCopyIsOfferedAgain() throws {
        var seeder = SuperSeeder(pieceCount: 2)
        let none = Bitfield(count: 2)
        let first = try #require(seeder.next(peerHas: none, held: [], availability: [0, 0]))
        let second = try #require(seeder.next(peerHas: none, held: [], availability: [0, 0]))
        #expect(Set([first, second]) == [0, 1])
        // The peer holding `second` was choked: that piece is free again.
        seeder.withdrawn([second])
        #expect(seeder.next(peerHas: none, held: [], availability: [0, 0]) == second)
        // `first` was delivered, and the only peer with it left (availability 0): offer it again.
        seeder.delivered(first)
        var availability = [0, 0]
        availability[first] = 1
        #expect(seeder.next(peerHas: none, held: [], availability: availability) == nil)
        availability[first] = 0
        #expect(seeder.next(peerHas: none, held: [], availability: availability) == first)
    }
}
