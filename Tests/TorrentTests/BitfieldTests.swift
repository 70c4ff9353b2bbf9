import Testing

@testable import Torrent

/// `Bitfield` keeps 64-bit words but reads and writes the wire's layout: piece 0 is the high bit of byte 0.
struct BitfieldTests {
    @Test(arguments: [1, 7, 8, 9, 63, 64, 65, 130, 1536])
    func theWireFormRoundTripsAndSpareBitsStayZero(count: Int) throws {
        var bits = Bitfield(count: count)
        for index in stride(from: 0, to: count, by: 3) { bits.insert(index) }
        bits.insert(count - 1)
        let wire = bits.bytes
        #expect(wire.count == (count + 7) / 8)
        #expect(wire[0] & 0x80 != 0, "piece 0 is the high bit of byte 0")
        let back = try #require(Bitfield(wire: wire, count: count))
        #expect(back == bits)
        #expect(back.setCount == (0..<count).filter { $0 % 3 == 0 || $0 == count - 1 }.count)
        let full = Bitfield(count: count, allSet: true)
        #expect(full.isComplete && full.setCount == count)
        #expect(full.bytes.last == UInt8(truncatingIfNeeded: 0xff << ((8 - count % 8) % 8)))
        #expect(Bitfield(wire: full.bytes, count: count) == full)
    }

    @Test func setOperationsGoAWordAtATimeInPieceOrder() {
        var ours = Bitfield(count: 200)
        var theirs = Bitfield(count: 200)
        for index in [0, 5, 63, 64, 130, 199] { theirs.insert(index) }
        for index in [5, 64, 100] { ours.insert(index) }
        #expect(theirs.countMissing(from: ours) == 4)
        var visited: [Int] = []
        theirs.forEach { visited.append($0) }
        #expect(visited == [0, 5, 63, 64, 130, 199])
        theirs.subtract(ours)
        #expect(theirs.setCount == 4 && !theirs.contains(5) && !theirs.contains(64) && theirs.contains(63))
        #expect(!theirs.insert(0) && theirs.insert(1) && theirs.setCount == 5)
        theirs.remove(1)
        #expect(!theirs.contains(1) && !theirs.contains(-1) && !theirs.contains(200))
    }
}
