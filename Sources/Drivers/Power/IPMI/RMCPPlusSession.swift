/// The keys of an established cipher suite 3 or 17 session (IPMI v2.0 section 13.31–13.32).
///
/// Suite 17 swaps HMAC-SHA1 for HMAC-SHA256 everywhere: SIK, K1 and K2 are 32 bytes (K1 and K2 still from the
/// 20-byte constants), RAKP 4 and every packet carry the first 16 bytes of the HMAC instead of 12.
struct RMCPPlusSessionKeys: Sendable, Equatable {
    let suite: IPMICipherSuite
    /// Session Integrity Key.
    let sik: [UInt8]
    /// K1: the HMAC-SHA1-96 integrity key.
    let k1: [UInt8]
    /// K2: its first 16 bytes are the AES-CBC-128 key.
    let k2: [UInt8]

    /// Derives SIK, K1 and K2 from the RAKP exchange (no BMC key K_G is set, so K_G is the user key).
    init(userKey: [UInt8], consoleRandom: [UInt8], bmcRandom: [UInt8], role: UInt8, username: [UInt8],
         suite: IPMICipherSuite = .suite3)
    {
        self.suite = suite
        let sik = IPMICrypto.hmac(
            suite.digest, key: userKey, consoleRandom + bmcRandom + [role, UInt8(username.count)] + username)
        self.sik = sik
        self.k1 = IPMICrypto.hmac(suite.digest, key: sik, [UInt8](repeating: 0x01, count: 20))
        self.k2 = IPMICrypto.hmac(suite.digest, key: sik, [UInt8](repeating: 0x02, count: 20))
    }

    /// The AuthCode RAKP 2 must carry: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm).
    static func rakp2AuthCode(userKey: [UInt8], consoleSessionID: UInt32, bmcSessionID: UInt32,
        consoleRandom: [UInt8], bmcRandom: [UInt8], bmcGUID: [UInt8], role: UInt8, username: [UInt8],
        suite: IPMICipherSuite = .suite3) -> [UInt8]
    {
        var data: [UInt8] = []
        data.appendLE32(consoleSessionID)
        data.appendLE32(bmcSessionID)
        data += consoleRandom + bmcRandom + bmcGUID + [role, UInt8(username.count)] + username
        return IPMICrypto.hmac(suite.digest, key: userKey, data)
    }

    /// The AuthCode RAKP 3 carries: HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm).
    static func rakp3AuthCode(userKey: [UInt8], bmcRandom: [UInt8], consoleSessionID: UInt32, role: UInt8,
        username: [UInt8], suite: IPMICipherSuite = .suite3) -> [UInt8]
    {
        var data = bmcRandom
        data.appendLE32(consoleSessionID)
        data += [role, UInt8(username.count)] + username
        return IPMICrypto.hmac(suite.digest, key: userKey, data)
    }

    /// The integrity check value RAKP 4 must carry: HMAC_SIK(Rm, SIDc, GUIDc), first 12 (suite 3) or 16 bytes.
    func rakp4IntegrityCheck(consoleRandom: [UInt8], bmcSessionID: UInt32, bmcGUID: [UInt8]) -> [UInt8] {
        var data = consoleRandom
        data.appendLE32(bmcSessionID)
        data += bmcGUID
        return Array(IPMICrypto.hmac(suite.digest, key: sik, data).prefix(suite.integrityCheckSize))
    }

    /// Encrypts and signs a payload into a whole RMCP+ datagram.
    func seal(payloadType: RMCPPayloadType, sessionID: UInt32, sequence: UInt32, payload: [UInt8], iv: [UInt8])
        throws(IPMICrypto.Failure) -> [UInt8]
    {
        var plain = payload
        let padCount = (16 - (payload.count + 1) % 16) % 16
        for index in 0..<padCount { plain.append(UInt8(index + 1)) }
        plain.append(UInt8(padCount))
        let body = iv + (try IPMICrypto.aes128CBC(encrypt: true, key: Array(k2.prefix(16)), iv: iv, plain))
        var bytes = RMCPPacket.header
        bytes.append(0x06)
        bytes.append(0xC0 | payloadType.rawValue)
        bytes.appendLE32(sessionID)
        bytes.appendLE32(sequence)
        bytes.appendLE16(UInt16(body.count))
        bytes += body
        let pad = RMCPPlusPacket.integrityPadSize(payloadLength: body.count)
        bytes += [UInt8](repeating: 0xFF, count: pad)
        bytes += [UInt8(pad), 0x07]
        bytes += IPMICrypto.hmac(suite.digest, key: k1, Array(bytes[4...])).prefix(suite.integrityCheckSize)
        return bytes
    }

    /// Checks a packet's AuthCode and decrypts its payload.
    func open(_ packet: RMCPPlusPacket) throws(IPMICodecError) -> [UInt8] {
        guard packet.authenticated, packet.encrypted else {
            throw IPMICodecError(.unsupportedFormat, "session packet is not authenticated and encrypted")
        }
        let expected = IPMICrypto.hmac(suite.digest, key: k1, packet.integrityData).prefix(suite.integrityCheckSize)
        guard constantTimeEqual(Array(expected), packet.authCode) else { throw IPMICodecError(.integrityMismatch) }
        let body = packet.payload
        guard body.count >= 32, body.count % 16 == 0 else {
            throw IPMICodecError(.badConfidentialityPad, "\(body.count) bytes")
        }
        let plain: [UInt8]
        do {
            plain = try IPMICrypto.aes128CBC(
                encrypt: false, key: Array(k2.prefix(16)), iv: Array(body[0..<16]), Array(body[16...]))
        } catch {
            throw IPMICodecError(.badConfidentialityPad, "decryption failed")
        }
        guard let padCount = plain.last, Int(padCount) < min(16, plain.count) else {
            throw IPMICodecError(.badConfidentialityPad)
        }
        let dataEnd = plain.count - 1 - Int(padCount)
        for index in 0..<Int(padCount) where plain[dataEnd + index] != UInt8(index + 1) {
            throw IPMICodecError(.badConfidentialityPad)
        }
        return Array(plain[0..<dataEnd])
    }
}
