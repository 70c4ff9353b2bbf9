/// A fixed-size set of piece indices, kept as 64-bit words (piece 0 = the high bit of word 0, as on the wire, where
/// piece 0 is the high bit of byte 0), so that set operations and scans go a word, not a bit or byte, at a time.
public struct Bitfield: Sendable, Equatable {
    /// The number of pieces.
    public let count: Int
    /// The packed bits, most significant first; spare bits zero.
    public private(set) var words: [UInt64]
    /// How many bits are set.
    public private(set) var setCount: Int = 0

    /// Creates an empty (or full) bitfield of `count` bits.
    public init(count: Int, allSet: Bool = false) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) >> 6)
        guard allSet, count > 0 else { return }
        for word in words.indices { words[word] = ~0 }
        if count & 63 != 0 { words[words.count - 1] = ~0 << UInt64(64 - count & 63) }
        setCount = count
    }

    /// Reads a wire bitfield; nil when the size is wrong or spare bits are set.
    public init?(wire: [UInt8], count: Int) {
        guard wire.count == (count + 7) / 8 else { return nil }
        if count % 8 != 0, let last = wire.last, last & (0xff >> UInt8(count % 8)) != 0 { return nil }
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) >> 6)
        for (position, byte) in wire.enumerated() {
            words[position >> 3] |= UInt64(byte) << UInt64(56 - 8 * (position & 7))
        }
        setCount = words.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    /// The wire form: one bit per piece, piece 0 the high bit of byte 0, spare bits zero.
    public var bytes: [UInt8] {
        (0..<(count + 7) / 8).map { UInt8(truncatingIfNeeded: words[$0 >> 3] >> UInt64(56 - 8 * ($0 & 7))) }
    }

    /// Whether every bit is set.
    public var isComplete: Bool { setCount == count }

    @inline(__always) static func mask(_ index: Int) -> UInt64 { (1 as UInt64) << UInt64(63 - index & 63) }

    /// Whether piece `index` is in the set.
    @inline(__always)
    public func contains(_ index: Int) -> Bool {
        guard index >= 0, index < count else { return false }
        return words[index >> 6] & Self.mask(index) != 0
    }

    /// Adds piece `index`; returns whether it was new.
    @discardableResult
    public mutating func insert(_ index: Int) -> Bool {
        guard index >= 0, index < count else { return false }
        let mask = Self.mask(index)
        guard words[index >> 6] & mask == 0 else { return false }
        words[index >> 6] |= mask
        setCount += 1
        return true
    }

    /// Removes piece `index`.
    public mutating func remove(_ index: Int) {
        guard contains(index) else { return }
        words[index >> 6] &= ~Self.mask(index)
        setCount -= 1
    }

    /// Removes every piece `other` holds (same count; a bitfield of another size changes nothing).
    public mutating func subtract(_ other: Bitfield) {
        guard other.count == count else { return }
        for word in words.indices where words[word] & other.words[word] != 0 {
            setCount -= (words[word] & other.words[word]).nonzeroBitCount
            words[word] &= ~other.words[word]
        }
    }

    /// How many pieces this set holds that `other` (of the same count) lacks.
    public func countMissing(from other: Bitfield) -> Int {
        var missing = 0
        for word in 0..<min(words.count, other.words.count) {
            missing += (words[word] & ~other.words[word]).nonzeroBitCount
        }
        return missing
    }

    /// Calls `body` with every piece in the set, in ascending order.
    @inline(__always)
    public func forEach(_ body: (Int) -> Void) {
        for word in words.indices {
            var bits = words[word]
            while bits != 0 {
                let bit = bits.leadingZeroBitCount
                bits &= ~((1 as UInt64) << UInt64(63 - bit))
                body(word << 6 | bit)
            }
        }
    }
}
