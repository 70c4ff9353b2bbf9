/// An Ethernet MAC address, kept in the low 48 bits of an integer.
public struct MACAddress: Sendable, Hashable, CodableAsText, Comparable {
    public let value: UInt64

    public init(value: UInt64) {
        self.value = value & 0xFFFF_FFFF_FFFF
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`), any case.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 17 else { return nil }
        let separator = bytes[2]
        guard separator == UInt8(ascii: ":") || separator == UInt8(ascii: "-") else { return nil }
        var value: UInt64 = 0
        for group in 0..<6 {
            let offset = group * 3
            if group > 0 && bytes[offset - 1] != separator { return nil }
            guard let high = Self.nibble(bytes[offset]), let low = Self.nibble(bytes[offset + 1]) else { return nil }
            value = value << 8 | UInt64(high << 4 | low)
        }
        self.value = value
    }

    /// The six bytes, most significant first.
    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: value >> (40 - 8 * UInt64($0))) } }

    /// Lower-case, colon-separated: `52:54:00:aa:00:01`.
    public var description: String { formatted(separator: UInt8(ascii: ":")) }

    /// The PXE file-name form: `01-52-54-00-aa-00-01` (ARP type 1 = Ethernet).
    public var pxeName: String { "01-" + formatted(separator: UInt8(ascii: "-")) }

    private func formatted(separator: UInt8) -> String {
        let digits: StaticString = "0123456789abcdef"
        var text: [UInt8] = []
        text.reserveCapacity(17)
        for index in 0..<6 {
            let byte = Int(truncatingIfNeeded: value >> (40 - 8 * UInt64(index))) & 0xFF
            if index > 0 { text.append(separator) }
            text.append(digits.utf8Start[byte >> 4])
            text.append(digits.utf8Start[byte & 0xF])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 97...102: byte - 87
        case 65...70: byte - 55
        default: nil
        }
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 address.
public struct IPv4Address: Sendable, Hashable, CodableAsText, Comparable {
    public let value: UInt32

    public init(_ value: UInt32) {
        self.value = value
    }

    /// Parses dotted-quad text; rejects leading zeros, which some tools read as octal.
    public init?(_ text: String) {
        var value: UInt32 = 0
        var octets = 0
        var octet: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | octet
                octets += 1
                octet = 0
                digits = 0
                continue
            }
            guard byte >= 48 && byte <= 57, digits < 3, !leadingZero || digits == 0 else { return nil }
            if digits == 0 { leadingZero = byte == 48 } else if leadingZero { return nil }
            octet = octet * 10 + UInt32(byte - 48)
            digits += 1
            guard octet <= 255 else { return nil }
        }
        guard digits > 0, octets == 3 else { return nil }
        self.value = value << 8 | octet
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// A value that travels in JSON as the text people write (`52:54:00:00:00:01`, `10.0.0.1`).
public protocol CodableAsText: Codable, CustomStringConvertible {
    /// Parses the text form; nil when it is not valid.
    init?(_ text: String)
}

extension CodableAsText {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(text) else {
            let context = DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "bad \(Self.self)")
            throw DecodingError.dataCorrupted(context)
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An IPv4 subnet in CIDR form, `10.77.0.0/24`.
public struct IPv4Network: Sendable, Hashable, Codable, CustomStringConvertible {
    public let address: IPv4Address
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(String(parts[0])), let length = Int(parts[1]),
              (0...32).contains(length) else { return nil }
        let mask = Self.mask(length)
        guard address.value & ~mask == 0 else { return nil }
        self.address = address
        self.prefixLength = length
    }

    public var description: String { "\(address)/\(prefixLength)" }

    public var netmask: IPv4Address { IPv4Address(Self.mask(prefixLength)) }

    public func contains(_ ip: IPv4Address) -> Bool {
        ip.value & Self.mask(prefixLength) == address.value
    }

    private static func mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }
}
