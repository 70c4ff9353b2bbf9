/// A bencode decoding failure, located at a byte offset of the input.
public struct BencodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable {
        case unexpectedEnd = "unexpected end of input"
        case invalidCharacter = "invalid character"
        case invalidInteger = "invalid integer"
        case invalidLength = "invalid string length"
        case tooDeep = "nesting too deep"
        case tooLong = "value too long"
        case unsortedKeys = "dictionary keys not sorted"
        case duplicateKey = "duplicate dictionary key"
        case trailingData = "trailing data after value"
    }

    /// The kind of failure.
    public var code: Code
    /// Byte offset in the input where it was detected.
    public var offset: Int

    public var description: String { "bencode: \(code.rawValue) at byte \(offset)" }
}

/// Limits that bound the work and memory of one decode, for input from untrusted peers.
public struct BencodeLimits: Sendable {
    /// The deepest nesting of lists and dictionaries accepted.
    public var maxDepth = 64
    /// The longest byte string accepted.
    public var maxStringLength = 64 << 20
    /// The largest number of elements accepted across the whole value.
    public var maxElements = 1 << 20

    /// The limits for a .torrent file or a tracker's answer.
    public static let standard = BencodeLimits()
}

/// A strict bencode decoder: canonical integers, sorted unique keys, bounded depth and length.
public struct BencodeDecoder {
    private let input: [UInt8]
    private let limits: BencodeLimits
    private var position = 0
    private var elements = 0
    /// Byte ranges of the values directly under the top-level dictionary's keys (for the info-hash).
    public private(set) var topLevelSpans: [[UInt8]: Range<Int>] = [:]

    /// Decodes exactly one value that spans the whole input.
    public static func decode(_ input: [UInt8], limits: BencodeLimits = .standard) throws -> BencodeValue {
        var decoder = BencodeDecoder(input: input, limits: limits)
        return try decoder.decodeAll()
    }

    /// Creates a decoder over `input`.
    public init(input: [UInt8], limits: BencodeLimits = .standard) {
        self.input = input
        self.limits = limits
    }

    /// Decodes one value that must span the whole input, recording top-level spans.
    public mutating func decodeAll() throws -> BencodeValue {
        let value = try decodeValue(depth: 0)
        guard position == input.count else { throw BencodeError(code: .trailingData, offset: position) }
        return value
    }

    /// Decodes one value at the current position and returns it with the offset just after it.
    public mutating func decodePrefix() throws -> (value: BencodeValue, end: Int) {
        let value = try decodeValue(depth: 0)
        return (value, position)
    }

    private func peek() throws -> UInt8 {
        guard position < input.count else { throw BencodeError(code: .unexpectedEnd, offset: position) }
        return input[position]
    }

    private mutating func decodeValue(depth: Int) throws -> BencodeValue {
        guard depth <= limits.maxDepth else { throw BencodeError(code: .tooDeep, offset: position) }
        elements += 1
        guard elements <= limits.maxElements else { throw BencodeError(code: .tooLong, offset: position) }
        let byte = try peek()
        switch byte {
        case UInt8(ascii: "i"):
            position += 1
            let number = try readInteger(terminator: UInt8(ascii: "e"), allowNegative: true)
            return .integer(number)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .bytes(try readBytes())
        case UInt8(ascii: "l"):
            position += 1
            var items: [BencodeValue] = []
            while try peek() != UInt8(ascii: "e") {
                items.append(try decodeValue(depth: depth + 1))
            }
            position += 1
            return .list(items)
        case UInt8(ascii: "d"):
            position += 1
            var entries: [[UInt8]: BencodeValue] = [:]
            var previous: [UInt8]?
            while try peek() != UInt8(ascii: "e") {
                let keyOffset = position
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(try peek()) else {
                    throw BencodeError(code: .invalidCharacter, offset: position)
                }
                let key = try readBytes()
                if let previous {
                    if previous == key { throw BencodeError(code: .duplicateKey, offset: keyOffset) }
                    if !bencodeKeyLess(previous, key) { throw BencodeError(code: .unsortedKeys, offset: keyOffset) }
                }
                let start = position
                let value = try decodeValue(depth: depth + 1)
                if depth == 0 { topLevelSpans[key] = start..<position }
                entries[key] = value
                previous = key
            }
            position += 1
            return .dictionary(entries)
        default:
            throw BencodeError(code: .invalidCharacter, offset: position)
        }
    }

    /// Reads a canonical decimal integer up to `terminator` (no leading zeros, no `-0`).
    private mutating func readInteger(terminator: UInt8, allowNegative: Bool) throws -> Int64 {
        let start = position
        var negative = false
        if allowNegative, try peek() == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let digitsStart = position
        var magnitude: Int64 = 0
        while true {
            let byte = try peek()
            if byte == terminator { break }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw BencodeError(code: .invalidInteger, offset: position)
            }
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (plus, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw BencodeError(code: .invalidInteger, offset: start) }
            magnitude = plus
            position += 1
        }
        let digits = position - digitsStart
        guard digits > 0 else { throw BencodeError(code: .invalidInteger, offset: start) }
        if input[digitsStart] == UInt8(ascii: "0"), digits > 1 || negative {
            throw BencodeError(code: .invalidInteger, offset: start)
        }
        position += 1
        return negative ? -magnitude : magnitude
    }

    private mutating func readBytes() throws -> [UInt8] {
        let start = position
        let length: Int64
        do {
            length = try readInteger(terminator: UInt8(ascii: ":"), allowNegative: false)
        } catch let error as BencodeError where error.code == .invalidInteger {
            throw BencodeError(code: .invalidLength, offset: start)
        }
        guard length <= Int64(limits.maxStringLength) else { throw BencodeError(code: .tooLong, offset: start) }
        let count = Int(length)
        guard input.count - position >= count else { throw BencodeError(code: .unexpectedEnd, offset: input.count) }
        let bytes = Array(input[position..<(position + count)])
        position += count
        return bytes
    }
}
