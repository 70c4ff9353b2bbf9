import Testing

@testable import Drivers

/// Cipher suite 3 primitives against published vectors, and the sealed packet round trip.
struct IPMICryptoTests {
    @Test func hmacSHA1MatchesRFC2202() {
        let digest = IPMICrypto.hmacSHA1(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(hexString(digest) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    @Test func aes128CBCMatchesNISTSP800_38A() throws {
        let key = bytes("2b7e151628aed2a6abf7158809cf4f3c")
        let iv = bytes("000102030405060708090a0b0c0d0e0f")
        let plain = bytes("6bc1bee22e409f96e93d7e117393172a")
        let cipher = try IPMICrypto.aes128CBC(encrypt: true, key: key, iv: iv, plain)
        #expect(hexString(cipher) == "7649abac8119b246cee98e9b12e9197d")
        #expect(try IPMICrypto.aes128CBC(encrypt: false, key: key, iv: iv, cipher) == plain)
        #expect(throws: IPMICrypto.Failure.self) { try IPMICrypto.aes128CBC(encrypt: true, key: key, iv: iv, [1]) }
    }

    @Test(arguments: [0, 1, 14, 15, 16, 17, 40])
    func sealedPayloadsOpenToTheSameBytes(length: Int) throws {
        let keys = RMCPDecoderTests.keys
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let datagram = try keys.seal(
            payloadType: .ipmi, sessionID: 1, sequence: 2, payload: payload, iv: try IPMICrypto.randomBytes(16))
        guard case .v20(let packet) = try RMCPDecoder.decodeDatagram(datagram) else {
            Issue.record("not RMCP+")
            return
        }
        #expect(try keys.open(packet) == payload)
    }

    @Test func aFlippedBitAnywhereInTheSignedRangeFailsTheIntegrityCheck() throws {
        let keys = RMCPDecoderTests.keys
        let datagram = try keys.seal(
            payloadType: .ipmi, sessionID: 1, sequence: 2, payload: [1, 2, 3], iv: [UInt8](repeating: 0, count: 16))
        for index in [6, 10, 20, 30, datagram.count - 15, datagram.count - 1] {
            var garbled = datagram
            garbled[index] ^= 0x10
            let packet = try? RMCPDecoder.decodeDatagram(garbled)
            guard case .v20(let v20) = packet else { continue }  // the trailer check caught it
            #expect(throws: IPMICodecError.self) { try keys.open(v20) }
        }
    }

    @Test func otherKeysCannotOpenAPacket() throws {
        let other = RMCPPlusSessionKeys(
            userKey: Array("wrong".utf8), consoleRandom: [UInt8](repeating: 1, count: 16),
            bmcRandom: [UInt8](repeating: 2, count: 16), role: 0x14, username: Array("admin".utf8))
        let datagram = try RMCPDecoderTests.keys.seal(
            payloadType: .ipmi, sessionID: 1, sequence: 2, payload: [1], iv: [UInt8](repeating: 0, count: 16))
        guard case .v20(let packet) = try RMCPDecoder.decodeDatagram(datagram) else { return }
        #expect(throws: IPMICodecError(.integrityMismatch)) { try other.open(packet) }
    }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

func bytes(_ hex: String) -> [UInt8] {
    var result: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16) ?? 0)
        index = next
    }
    return result
}
