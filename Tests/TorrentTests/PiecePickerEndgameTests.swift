import Testing

@testable import Torrent

/// Endgame only once every missing block is requested, and at most one duplicate per block.
struct PiecePickerEndgameTests {
    static let peers = (1...3).map { PeerKey(UInt64($0)) }

    static func picker(pieces: Int) -> PiecePicker {
        PiecePicker(pieceCount: pieces, pieceLength: 64 << 10, totalLength: Int64(pieces) * (64 << 10))
    }

    @Test func aPeerWithNothingNewStaysIdleWhileOtherBlocksAreUnrequested() {
        var picker = Self.picker(pieces: 2)
        let have = Bitfield(count: 2)
        var onlyFirst = Bitfield(count: 2)
        onlyFirst.insert(0)
        let full = Bitfield(count: 2, allSet: true)
        picker.peerAdded(onlyFirst)
        picker.peerAdded(full)
        // Peer 0 has only piece 0 and takes all of it.
        let first = picker.pick(peer: Self.peers[0], peerHas: onlyFirst, limit: 8, outstanding: [], have: have)
        #expect(first.count == 4 && first.allSatisfy { $0.piece == 0 })
        // Another peer with only piece 0: piece 1 is not requested yet, so no duplicates.
        let idle = picker.pick(peer: Self.peers[1], peerHas: onlyFirst, limit: 8, outstanding: [], have: have)
        #expect(idle.isEmpty)
        #expect(!picker.isEndgame(have: have))
        #expect(picker.endgameRequests == 0)
        // A full peer takes piece 1: now every block is out, and the idle peer may duplicate piece 0.
        let second = picker.pick(peer: Self.peers[2], peerHas: full, limit: 4, outstanding: [], have: have)
        #expect(second.count == 4 && second.allSatisfy { $0.piece == 1 })
        #expect(picker.isEndgame(have: have))
        let duplicates = picker.pick(peer: Self.peers[1], peerHas: onlyFirst, limit: 8, outstanding: [], have: have)
        #expect(Set(duplicates) == Set(first))
        #expect(picker.endgameRequests == 4)
    }

    @Test func noBlockIsRequestedMoreThanTwice() {
        var picker = Self.picker(pieces: 1)
        let have = Bitfield(count: 1)
        let full = Bitfield(count: 1, allSet: true)
        let first = picker.pick(peer: Self.peers[0], peerHas: full, limit: 4, outstanding: [], have: have)
        #expect(first.count == 4)
        let second = picker.pick(peer: Self.peers[1], peerHas: full, limit: 4, outstanding: [], have: have)
        #expect(Set(second) == Set(first), "one duplicate of each block")
        let third = picker.pick(peer: Self.peers[2], peerHas: full, limit: 4, outstanding: [], have: have)
        #expect(third.isEmpty)
        // One copy of a block came in and the other was cancelled: the third peer still gets nothing for it,
        // but a block whose duplicate was dropped can be asked for again.
        _ = picker.received(first[0])
        picker.released(second[1])
        let retry = picker.pick(peer: Self.peers[2], peerHas: full, limit: 4, outstanding: [], have: have)
        #expect(retry == [first[1]])
    }
}
