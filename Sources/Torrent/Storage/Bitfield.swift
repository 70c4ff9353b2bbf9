/// A fixed-size set of piece indices, stored as the wire's big-endian bitfield (piece 0 = high bit of byte 0).
public struct Bitfield: Sendable, Equatable {
    /// The number of pieces.
    public let count: Int
    /// The packed bits, spare bits zero.
    public private(set) var bytes: [UInt8]
    /// How many bits are set.
    public private(set) var setCount: Int = 0

    /// Creates an empty (or full) bitfield of `count` bits.
    public init(count: Int, allSet: Bool = false) {
        self.count = count
        self.bytes = [UInt8](repeating: 0, count: (count + 7) / 8)
        if allSet { for index in 0..<count { insert(index) } }
    }

    /// Reads a wire bitfield; nil when the size is wrong or spare bits are set.
    public init?(wire: [UInt8], count: Int) {
        guard wire.count == (count + 7) / 8 else { return nil }
        if count % 8 != 0, let last = wire.last, last & (0xff >> UInt8(count % 8)) != 0 { return nil }
        self.count = count
        self.bytes = wire
        self.setCount = wire.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    /// Whether every bit is set.
    public var isComplete: Bool { setCount == count }

    /// Whether piece `index` is in the set.
    public func contains(_ index: Int) -> Bool {
        guard index >= 0, index < count else { return false }
        return bytes[index >> 3] & (0x80 >> UInt8(index & 7)) != 0
    }

    /// Adds piece `index`; returns whether it was new.
    @discardableResult
    public mutating func insert(_ index: Int) -> Bool {
        guard index >= 0, index < count, !contains(index) else { return false }
        bytes[index >> 3] |= 0x80 >> UInt8(index & 7)
        setCount += 1
        return true
    }

    /// Removes piece `index`.
    public mutating func remove(_ index: Int) {
        guard contains(index) else { return }
        bytes[index >> 3] &= ~(0x80 >> UInt8(index & 7))
        setCount -= 1
    }

    /// Removes every piece `other` holds (same count; a bitfield of another size changes nothing).
    public mutating func subtract(_ other: Bitfield) {
        guard other.count == count else { return }
        for byte in bytes.indices where bytes[byte] & other.bytes[byte] != 0 {
            setCount -= (bytes[byte] & other.bytes[byte]).nonzeroBitCount
            bytes[byte] &= ~other.bytes[byte]
        }
    }
}
