import Testing

@testable import Torrent

struct PiecePickerTests {
    static let peerA = PeerKey(1)

    static func picker(pieces: Int) -> PiecePicker {
        PiecePicker(pieceCount: pieces, pieceLength: 64 << 10, totalLength: Int64(pieces) * (64 << 10))
    }

    static func bits(_ count: Int, _ indices: [Int]) -> Bitfield {
        var bits = Bitfield(count: count)
        for index in indices { bits.insert(index) }
        return bits
    }

    @Test func rarestPieceFirstOnceAFewPiecesAreIn() {
        var picker = Self.picker(pieces: 10)
        let have = Self.bits(10, [0, 1, 2, 3])
        let full = Bitfield(count: 10, allSet: true)
        picker.peerAdded(full)
        picker.peerAdded(full)
        var rare = Bitfield(count: 10)
        rare.insert(7)
        rare.insert(8)
        picker.peerAdded(rare)
        // Every piece but 4, 5, 6, 9 is on three peers or owned; 4, 5, 6, 9 are on two: pick among them.
        let first = picker.pick(peer: Self.peerA, peerHas: full, limit: 4, outstanding: [], have: have)
        #expect(first.count == 4)
        #expect(Set(first.map(\.piece)).isSubset(of: [4, 5, 6, 9]))
        #expect(Set(first.map(\.piece)).count == 1, "all four blocks of one piece")
    }

    @Test func finishesStartedPiecesBeforeNewOnes() {
        var picker = Self.picker(pieces: 6)
        let have = Self.bits(6, [0, 1, 2, 3])
        let full = Bitfield(count: 6, allSet: true)
        picker.peerAdded(full)
        let first = picker.pick(peer: Self.peerA, peerHas: full, limit: 2, outstanding: [], have: have)
        #expect(picker.openBlocks == 2, "two of the piece's four blocks are neither requested nor received")
        for request in first { picker.released(request) }
        #expect(picker.openBlocks == 4)
        let again = picker.pick(peer: Self.peerA, peerHas: full, limit: 4, outstanding: [], have: have)
        #expect(again.map(\.piece) == Array(repeating: first[0].piece, count: 4))
        #expect(picker.openBlocks == 0 && !picker.isEndgame(have: have), "one piece of two missing is not started")
    }

    @Test func endgameDuplicatesOnlyWhatOthersHaveOutstanding() {
        var picker = Self.picker(pieces: 1)
        let have = Bitfield(count: 1)
        let full = Bitfield(count: 1, allSet: true)
        let first = picker.pick(peer: Self.peerA, peerHas: full, limit: 10, outstanding: [], have: have)
        #expect(first.count == 4)
        let duplicate = picker.pick(
            peer: Self.peerA, peerHas: full, limit: 10, outstanding: Set(first.prefix(3)), have: have)
        #expect(duplicate == [first[3]])
        #expect(picker.isEndgame(have: have))
        _ = picker.received(first[0])
        _ = picker.received(first[1])
        _ = picker.received(first[2])
        #expect(picker.received(first[3]) == (true, true))
        #expect(picker.received(first[3]) == (false, false), "a duplicate is not new")
    }

    @Test func lastPieceIsShort() {
        let picker = PiecePicker(
            pieceCount: 3, pieceLength: 32768, totalLength: 32768 * 2 + 100)
        #expect(picker.blockCount(2) == 1)
        #expect(picker.request(piece: 2, block: 0).length == 100)
        #expect(picker.request(piece: 1, block: 1) == BlockRequest(piece: 1, begin: 16384, length: 16384))
    }

    @Test func mixedSourceFailureIsRefetchedFromOnePeer() {
        let peerB = PeerKey(2)
        var picker = Self.picker(pieces: 1)
        let have = Bitfield(count: 1)
        let full = Bitfield(count: 1, allSet: true)
        picker.failed(0, solo: true)
        let mine = picker.pick(peer: Self.peerA, peerHas: full, limit: 2, outstanding: [], have: have)
        #expect(mine.count == 2)
        #expect(picker.pick(peer: peerB, peerHas: full, limit: 4, outstanding: [], have: have).isEmpty)
        picker.peerGone(Self.peerA)
        #expect(picker.pick(peer: peerB, peerHas: full, limit: 4, outstanding: [], have: have).count == 2)
    }
}

extension PiecePicker {
    /// `pick` with a fixed seed: the tests read the same picks on every run.
    mutating func pick(
        peer: PeerKey, peerHas: Bitfield, limit: Int, outstanding: Set<BlockRequest>, have: Bitfield
    ) -> [BlockRequest] {
        var generator = SwarmRandom(seed: 7)
        return pick(
            peer: peer, peerHas: peerHas, have: have, limit: limit, outstanding: outstanding, using: &generator
        )
    }
}
