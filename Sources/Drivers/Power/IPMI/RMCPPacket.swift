/// One RMCP datagram carrying an IPMI v1.5 or v2.0 (RMCP+) session packet, before any crypto is undone.
enum RMCPPacket: Sendable, Equatable {
    /// An IPMI v1.5 session packet (used before a session for Get Channel Authentication Capabilities).
    case v15(IPMI15Packet)
    /// An IPMI v2.0 RMCP+ packet.
    case v20(RMCPPlusPacket)

    /// The RMCP header: version 6, reserved, sequence 0xFF (no RMCP ack), class IPMI.
    static let header: [UInt8] = [0x06, 0x00, 0xFF, 0x07]
}

/// An IPMI v1.5 session packet; `message` is the raw IPMI LAN message.
struct IPMI15Packet: Sendable, Equatable {
    var authType: UInt8
    var sequence: UInt32
    var sessionID: UInt32
    /// 16 bytes when `authType` is not none.
    var authCode: [UInt8]
    var message: [UInt8]

    /// Serializes the packet with its RMCP header.
    func encoded() -> [UInt8] {
        var bytes = RMCPPacket.header
        bytes.append(authType)
        bytes.appendLE32(sequence)
        bytes.appendLE32(sessionID)
        if authType != 0 { bytes.append(contentsOf: authCode) }
        bytes.append(UInt8(message.count))
        bytes.append(contentsOf: message)
        return bytes
    }
}

/// The payload types this client sends or expects (IPMI v2.0 table 13-16).
enum RMCPPayloadType: UInt8, Sendable {
    case ipmi = 0x00
    case openSessionRequest = 0x10
    case openSessionResponse = 0x11
    case rakp1 = 0x12
    case rakp2 = 0x13
    case rakp3 = 0x14
    case rakp4 = 0x15
}

/// An RMCP+ packet as it is on the wire: payload still encrypted, AuthCode not yet checked.
struct RMCPPlusPacket: Sendable, Equatable {
    var encrypted: Bool
    var authenticated: Bool
    /// The six-bit payload type (`RMCPPayloadType` raw values).
    var payloadType: UInt8
    var sessionID: UInt32
    var sequence: UInt32
    var payload: [UInt8]
    /// The AuthCode when `authenticated` (12 bytes of HMAC-SHA1-96, or 16 of HMAC-SHA256-128), else empty.
    var authCode: [UInt8]
    /// The bytes the AuthCode covers: from the auth type byte through the next-header byte.
    var integrityData: [UInt8]

    /// Bytes from the auth type through the payload length field.
    static let sessionHeaderSize = 12
    /// Size of the HMAC-SHA1-96 AuthCode (cipher suite 3); suite 17's HMAC-SHA256-128 has 16 bytes.
    static let authCodeSize = 12

    /// The number of 0xFF integrity pad bytes for a payload of this length (makes the covered range a DWORD multiple).
    static func integrityPadSize(payloadLength: Int) -> Int {
        let covered = sessionHeaderSize + payloadLength + 2
        return (4 - covered % 4) % 4
    }

    /// Serializes an unauthenticated packet (pre-session messages).
    static func encodePlain(payloadType: RMCPPayloadType, sessionID: UInt32 = 0, sequence: UInt32 = 0,
        payload: [UInt8]) -> [UInt8]
    {
        var bytes = RMCPPacket.header
        bytes.append(0x06)
        bytes.append(payloadType.rawValue)
        bytes.appendLE32(sessionID)
        bytes.appendLE32(sequence)
        bytes.appendLE16(UInt16(payload.count))
        bytes.append(contentsOf: payload)
        return bytes
    }
}

/// A streaming decoder for RMCP packets: returns `.needMoreData` until a whole packet is buffered, never
/// consuming part of one. Datagram transports feed one datagram and then `reset()`.
struct RMCPDecoder: Sendable {
    /// What `next()` found.
    enum Result: Sendable, Equatable {
        case needMoreData
        case message(RMCPPacket)
    }

    /// Where the decoder is in the current packet.
    enum State: Sendable, Equatable {
        /// The fixed header is not complete yet, so the packet length is unknown.
        case awaitingHeader
        /// The header said the packet is this many bytes long.
        case awaitingBody(length: Int)
    }

    private(set) var state: State = .awaitingHeader
    private(set) var buffer: [UInt8] = []
    /// The AuthCode length of authenticated packets: the session's integrity algorithm decides it.
    let authCodeSize: Int

    init(authCodeSize: Int = RMCPPlusPacket.authCodeSize) {
        self.authCodeSize = authCodeSize
    }

    /// Appends received bytes.
    mutating func feed(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Drops everything buffered (after a datagram, or after an error).
    mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        state = .awaitingHeader
    }

    /// Decodes the next whole packet, if one is buffered.
    mutating func next() throws(IPMICodecError) -> Result {
        if case .awaitingHeader = state {
            guard let length = try Self.frameLength(buffer, authCodeSize: authCodeSize) else { return .needMoreData }
            state = .awaitingBody(length: length)
        }
        guard case .awaitingBody(let length) = state, buffer.count >= length else { return .needMoreData }
        let frame = Array(buffer[0..<length])
        let packet = try Self.decodeFrame(frame)
        buffer.removeFirst(length)
        state = .awaitingHeader
        return .message(packet)
    }

    /// The whole packet's length once the header is buffered; nil when more bytes are needed.
    static func frameLength(_ bytes: [UInt8], authCodeSize: Int = RMCPPlusPacket.authCodeSize)
        throws(IPMICodecError) -> Int?
    {
        if bytes.count >= 1, bytes[0] != 0x06 { throw IPMICodecError(.notIPMI, "RMCP version \(bytes[0])") }
        if bytes.count >= 4, bytes[3] & 0x1F != 0x07 { throw IPMICodecError(.notIPMI, "RMCP class \(bytes[3])") }
        guard bytes.count >= 5 else { return nil }
        let authType = bytes[4]
        switch authType {
        case 0x06:
            guard bytes.count >= 16 else { return nil }
            let payloadType = bytes[5]
            if payloadType & 0x3F == 0x02 { throw IPMICodecError(.unsupportedFormat, "OEM explicit payload") }
            let length = Int(bytes.readLE16(at: 14))
            var total = 16 + length
            if payloadType & 0x40 != 0 {
                total += RMCPPlusPacket.integrityPadSize(payloadLength: length) + 2 + authCodeSize
            }
            return total
        case 0x00, 0x01, 0x02, 0x04, 0x05:
            let lengthOffset = 4 + 1 + 4 + 4 + (authType == 0 ? 0 : 16)
            guard bytes.count > lengthOffset else { return nil }
            return lengthOffset + 1 + Int(bytes[lengthOffset])
        default:
            throw IPMICodecError(.unsupportedFormat, "authentication type \(authType)")
        }
    }

    /// Decodes exactly one packet of the length `frameLength` gave.
    static func decodeFrame(_ frame: [UInt8]) throws(IPMICodecError) -> RMCPPacket {
        let authType = frame[4]
        if authType != 0x06 {
            let codeSize = authType == 0 ? 0 : 16
            let lengthOffset = 13 + codeSize
            return .v15(IPMI15Packet(
                authType: authType, sequence: frame.readLE32(at: 5), sessionID: frame.readLE32(at: 9),
                authCode: Array(frame[13..<lengthOffset]), message: Array(frame[(lengthOffset + 1)...])))
        }
        let payloadTypeByte = frame[5]
        let length = Int(frame.readLE16(at: 14))
        let payload = Array(frame[16..<(16 + length)])
        let authenticated = payloadTypeByte & 0x40 != 0
        var authCode: [UInt8] = []
        var integrityData: [UInt8] = []
        if authenticated {
            let pad = RMCPPlusPacket.integrityPadSize(payloadLength: length)
            let padStart = 16 + length
            let padLengthIndex = padStart + pad
            guard frame[padStart..<padLengthIndex].allSatisfy({ $0 == 0xFF }), Int(frame[padLengthIndex]) == pad,
                frame[padLengthIndex + 1] == 0x07
            else { throw IPMICodecError(.badTrailer) }
            integrityData = Array(frame[4...(padLengthIndex + 1)])
            authCode = Array(frame[(padLengthIndex + 2)...])
        }
        return .v20(RMCPPlusPacket(
            encrypted: payloadTypeByte & 0x80 != 0, authenticated: authenticated, payloadType: payloadTypeByte & 0x3F,
            sessionID: frame.readLE32(at: 6), sequence: frame.readLE32(at: 10), payload: payload, authCode: authCode,
            integrityData: integrityData))
    }

    /// Decodes one whole datagram; trailing bytes beyond the packet (a legacy pad byte) are ignored.
    static func decodeDatagram(_ bytes: [UInt8], authCodeSize: Int = RMCPPlusPacket.authCodeSize)
        throws(IPMICodecError) -> RMCPPacket
    {
        var decoder = RMCPDecoder(authCodeSize: authCodeSize)
        decoder.feed(bytes)
        guard case .message(let packet) = try decoder.next() else { throw IPMICodecError(.truncated, "datagram") }
        return packet
    }
}
