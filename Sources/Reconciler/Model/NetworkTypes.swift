/// An Ethernet MAC address, kept as six bytes.
public struct MACAddress: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`), any case.
    public init?(_ text: String) {
        let parts = text.split(separator: text.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(6)
        for part in parts {
            guard part.utf8.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    /// Lower-case, colon-separated: `52:54:00:aa:00:01`.
    public var description: String { bytes.map(Self.hex).joined(separator: ":") }

    /// The PXE file-name form: `01-52-54-00-aa-00-01` (ARP type 1 = Ethernet).
    public var pxeName: String { "01-" + bytes.map(Self.hex).joined(separator: "-") }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let mac = MACAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad MAC"))
        }
        self = mac
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}

/// An IPv4 address.
public struct IPv4Address: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) {
        self.value = value
    }

    /// Parses dotted-quad text; rejects leading zeros, which some tools read as octal.
    public init?(_ text: String) {
        var value: UInt32 = 0
        var octets = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.utf8.count <= 3, part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  !(part.utf8.count > 1 && part.hasPrefix("0")), let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
            octets += 1
        }
        guard octets == 4 else { return nil }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPv4Address(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad IPv4"))
        }
        self = address
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
