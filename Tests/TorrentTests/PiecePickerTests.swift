import Testing

@testable import Torrent

struct PiecePickerTests {
    final class Token: Sendable {}
    /// Kept alive so no other object can reuse its address (an ObjectIdentifier does not retain).
    static let tokenA = Token()
    static let peerA = ObjectIdentifier(tokenA)

    static func picker(pieces: Int, have: [Int] = []) -> PiecePicker {
        var bits = Bitfield(count: pieces)
        for index in have { bits.insert(index) }
        return PiecePicker(
            pieceCount: pieces, pieceLength: 64 << 10, totalLength: Int64(pieces) * (64 << 10), have: bits)
    }

    @Test func rarestPieceFirstOnceAFewPiecesAreIn() {
        var picker = Self.picker(pieces: 10, have: [0, 1, 2, 3])
        let full = Bitfield(count: 10, allSet: true)
        picker.peerAdded(full)
        picker.peerAdded(full)
        var rare = Bitfield(count: 10)
        rare.insert(7)
        rare.insert(8)
        picker.peerAdded(rare)
        // Every piece but 4, 5, 6, 9 is on three peers or owned; 4, 5, 6, 9 are on two: pick among them.
        let first = picker.pick(peer: Self.peerA, peerHas: full, limit: 4, outstanding: [])
        #expect(first.count == 4)
        #expect(Set(first.map(\.piece)).isSubset(of: [4, 5, 6, 9]))
        #expect(Set(first.map(\.piece)).count == 1, "all four blocks of one piece")
    }

    @Test func finishesStartedPiecesBeforeNewOnes() {
        var picker = Self.picker(pieces: 6, have: [0, 1, 2, 3])
        let full = Bitfield(count: 6, allSet: true)
        picker.peerAdded(full)
        let first = picker.pick(peer: Self.peerA, peerHas: full, limit: 2, outstanding: [])
        for request in first { picker.released(request) }
        let again = picker.pick(peer: Self.peerA, peerHas: full, limit: 4, outstanding: [])
        #expect(again.map(\.piece) == Array(repeating: first[0].piece, count: 4))
    }

    @Test func endgameDuplicatesOnlyWhatOthersHaveOutstanding() {
        var picker = Self.picker(pieces: 1)
        let full = Bitfield(count: 1, allSet: true)
        let first = picker.pick(peer: Self.peerA, peerHas: full, limit: 10, outstanding: [])
        #expect(first.count == 4)
        let duplicate = picker.pick(peer: Self.peerA, peerHas: full, limit: 10, outstanding: Set(first.prefix(3)))
        #expect(duplicate == [first[3]])
        #expect(picker.isEndgame)
        _ = picker.received(first[0])
        _ = picker.received(first[1])
        _ = picker.received(first[2])
        #expect(picker.received(first[3]) == (true, true))
        #expect(picker.received(first[3]) == (false, false), "a duplicate is not new")
    }

    @Test func lastPieceIsShort() {
        let picker = PiecePicker(
            pieceCount: 3, pieceLength: 32768, totalLength: 32768 * 2 + 100, have: Bitfield(count: 3))
        #expect(picker.blockCount(2) == 1)
        #expect(picker.request(piece: 2, block: 0).length == 100)
        #expect(picker.request(piece: 1, block: 1) == BlockRequest(piece: 1, begin: 16384, length: 16384))
    }

    @Test func mixedSourceFailureIsRefetchedFromOnePeer() {
        let other = Token()
        let peerB = ObjectIdentifier(other)
        defer { withExtendedLifetime(other) {} }
        var picker = Self.picker(pieces: 1)
        let full = Bitfield(count: 1, allSet: true)
        picker.failed(0, solo: true)
        let mine = picker.pick(peer: Self.peerA, peerHas: full, limit: 2, outstanding: [])
        #expect(mine.count == 2)
        #expect(picker.pick(peer: peerB, peerHas: full, limit: 4, outstanding: []).isEmpty)
        picker.peerGone(Self.peerA)
        #expect(picker.pick(peer: peerB, peerHas: full, limit: 4, outstanding: []).count == 2)
    }
}
