import LabSupport
import Testing

@testable import Drivers

/// The RMCP packet parser: whole packets only, whatever the byte splits, and clear errors on garbage.
struct RMCPDecoderTests {
    static let keys = RMCPPlusSessionKeys(
        userKey: Array("pass".utf8), consoleRandom: [UInt8](repeating: 1, count: 16),
        bmcRandom: [UInt8](repeating: 2, count: 16), role: 0x14, username: Array("admin".utf8))

    /// One packet of every shape the client meets.
    static let packets: [[UInt8]] = {
        let capabilities = IPMI15Packet(
            authType: 0, sequence: 0, sessionID: 0, authCode: [],
            message: IPMIRequest(netFn: 0x06, command: 0x38, sequence: 0, data: [0x8E, 0x04]).encoded()
        ).encoded()
        let md5 = IPMI15Packet(
            authType: 2, sequence: 7, sessionID: 0x1234, authCode: [UInt8](repeating: 0xAB, count: 16),
            message: [1, 2, 3]
        ).encoded()
        let open = RMCPPlusPacket.encodePlain(
            payloadType: .openSessionRequest,
            payload: RMCPPlusHandshake.OpenSessionRequest(tag: 1, privilege: 4, consoleSessionID: 0xA0B0_C0D0)
                .encoded())
        let sealed = try? keys.seal(
            payloadType: .ipmi, sessionID: 0x0200_0001, sequence: 5,
            payload: IPMIRequest(netFn: 0, command: 1, sequence: 3, data: []).encoded(),
            iv: [UInt8](repeating: 9, count: 16))
        return [capabilities, md5, open, sealed ?? []]
    }()

    @Test(arguments: 0..<4) func dripFeedingOneByteAtATimeYieldsThePacketOnlyAtTheLastByte(index: Int) throws {
        let packet = Self.packets[index]
        let expected = try RMCPDecoder.decodeDatagram(packet)
        var decoder = RMCPDecoder()
        for (offset, byte) in packet.enumerated() {
            decoder.feed([byte])
            let result = try decoder.next()
            if offset < packet.count - 1 {
                #expect(result == .needMoreData, "byte \(offset) of \(packet.count)")
            } else {
                #expect(result == .message(expected))
            }
        }
        #expect(decoder.buffer.isEmpty)
        #expect(decoder.state == .awaitingHeader)
    }

    @Test func randomSplitsOfAStreamYieldEveryPacketInOrder() throws {
        let stream = Self.packets.flatMap { $0 } + Self.packets.reversed().flatMap { $0 }
        let expected = try (Self.packets + Self.packets.reversed()).map { try RMCPDecoder.decodeDatagram($0) }
        var generator = SplitMix64(seed: 42)
        for _ in 0..<50 {
            var decoder = RMCPDecoder()
            var decoded: [RMCPPacket] = []
            var offset = 0
            while offset < stream.count {
                let size = Int.random(in: 1...40, using: &generator)
                decoder.feed(stream[offset..<min(stream.count, offset + size)])
                offset += size
                while case .message(let packet) = try decoder.next() { decoded.append(packet) }
            }
            #expect(decoded == expected)
        }
    }

    @Test(arguments: 0..<4) func everyTruncationNeedsMoreDataAndNeverYieldsAPacket(index: Int) throws {
        let packet = Self.packets[index]
        for length in 0..<packet.count {
            var decoder = RMCPDecoder()
            decoder.feed(packet.prefix(length))
            #expect(try decoder.next() == .needMoreData, "prefix \(length)")
            #expect(decoder.buffer.count == length, "a partial frame is never consumed")
        }
        #expect(throws: IPMICodecError.self) { try RMCPDecoder.decodeDatagram(Array(packet.dropLast())) }
    }

    @Test func decodesTheSealedPacketFieldsAndItsTrailer() throws {
        guard case .v20(let packet) = try RMCPDecoder.decodeDatagram(Self.packets[3]) else {
            Issue.record("not an RMCP+ packet")
            return
        }
        #expect(packet.encrypted && packet.authenticated)
        #expect(packet.sessionID == 0x0200_0001)
        #expect(packet.sequence == 5)
        #expect(packet.authCode.count == 12)
        #expect((packet.integrityData.count) % 4 == 0)
    }

    @Test(arguments: [
        ([0x07, 0x00, 0xFF, 0x07, 0x00] as [UInt8], IPMICodecError.Code.notIPMI),
        ([0x06, 0x00, 0xFF, 0x06, 0x00], .notIPMI),
        ([0x06, 0x00, 0xFF, 0x07, 0x03], .unsupportedFormat),
        ([0x06, 0x00, 0xFF, 0x07, 0x06, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .unsupportedFormat),
    ])
    func garbageIsRejectedWithACode(bytes: [UInt8], code: IPMICodecError.Code) {
        var decoder = RMCPDecoder()
        decoder.feed(bytes)
        let error = #expect(throws: IPMICodecError.self) { try decoder.next() }
        #expect(error?.code == code)
    }

    @Test func aCorruptIntegrityTrailerIsRejected() {
        var packet = Self.packets[3]
        let padLengthIndex = packet.count - 12 - 2
        packet[padLengthIndex + 1] = 0x08
        #expect(throws: IPMICodecError.self) { try RMCPDecoder.decodeDatagram(packet) }
    }

    @Test func randomGarbageNeverCrashesAndNeverYieldsAPacketItCannotReencode() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            let count = Int.random(in: 0...80, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if count > 4, Bool.random(using: &generator) { bytes.replaceSubrange(0..<4, with: RMCPPacket.header) }
            var decoder = RMCPDecoder()
            decoder.feed(bytes)
            _ = try? decoder.next()
        }
    }
}
