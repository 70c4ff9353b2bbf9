/// A packet or message could not be decoded or failed a check; says which, never with key material.
typealias IPMICodecError = CodedError<IPMICodecErrorCode>

/// What is wrong with a packet or message.
enum IPMICodecErrorCode: String, ErrorCode {
    /// Not an RMCP packet (version byte), or not of the IPMI message class.
    case notIPMI
    /// An authentication type or payload type this client does not speak.
    case unsupportedFormat
    /// A length field disagrees with the bytes around it.
    case badLength
    /// An IPMI message checksum is wrong.
    case badChecksum
    /// The integrity pad, pad length or next-header byte is wrong.
    case badTrailer
    /// The AuthCode does not match the packet (garbled, or keys differ).
    case integrityMismatch
    /// An encrypted payload is not a whole number of AES blocks or its padding is wrong.
    case badConfidentialityPad
    /// A message is shorter than its fixed part.
    case truncated

    /// A garbled or foreign datagram; the next one may be fine.
    var intent: ErrorIntent { .transient }
}

/// Little-endian helpers for the fixed-layout IPMI fields.
extension Array where Element == UInt8 {
    mutating func appendLE32(_ value: UInt32) {
        append(contentsOf: [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF),
            UInt8(value >> 24)])
    }

    mutating func appendLE16(_ value: UInt16) {
        append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8)])
    }
}

extension Collection where Element == UInt8, Index == Int {
    /// Reads a little-endian UInt32 at `offset` from the collection's start; the caller checked the length.
    func readLE32(at offset: Int) -> UInt32 {
        let base = startIndex + offset
        return UInt32(self[base]) | UInt32(self[base + 1]) << 8 | UInt32(self[base + 2]) << 16
            | UInt32(self[base + 3]) << 24
    }

    /// Reads a little-endian UInt16 at `offset` from the collection's start; the caller checked the length.
    func readLE16(at offset: Int) -> UInt16 {
        let base = startIndex + offset
        return UInt16(self[base]) | UInt16(self[base + 1]) << 8
    }
}

/// `0xC1`-style hex for a byte.
func hexByte(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16, uppercase: true)
    return "0x" + (digits.count == 1 ? "0" + digits : digits)
}
