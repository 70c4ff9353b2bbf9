import Testing

@testable import Drivers

/// IPMI LAN messages and the RMCP+ handshake payloads: layouts, checksums, short and garbled input.
struct IPMIMessageTests {
    @Test func requestLayoutAndChecksumsMatchTheSpecification() {
        let bytes = IPMIRequest(netFn: 0x06, command: 0x38, sequence: 0, data: [0x8E, 0x04]).encoded()
        // Get Channel Authentication Capabilities as ipmitool sends it.
        #expect(bytes == [0x20, 0x18, 0xC8, 0x81, 0x00, 0x38, 0x8E, 0x04, 0xB5])
    }

    @Test func responseRoundTripsAndChecksumsAreVerified() throws {
        let response = IPMIResponse(netFn: 0x01, command: 0x01, sequence: 5, completionCode: 0, data: [0x01, 0, 0x40])
        #expect(try IPMIResponse.decode(response.encoded()) == response)
        var corrupt = response.encoded()
        corrupt[7] ^= 0x01
        #expect(throws: IPMICodecError.self) { try IPMIResponse.decode(corrupt) }
        var badHeader = response.encoded()
        badHeader[2] ^= 0xFF
        #expect(throws: IPMICodecError.self) { try IPMIResponse.decode(badHeader) }
    }

    @Test func truncatedResponsesAreRejected() {
        let bytes = IPMIResponse(netFn: 1, command: 1, sequence: 1, completionCode: 0, data: [1]).encoded()
        for length in 0..<bytes.count {
            #expect(throws: IPMICodecError.self) { try IPMIResponse.decode(Array(bytes.prefix(length))) }
        }
    }

    @Test func openSessionRequestProposesCipherSuite3() {
        let bytes = RMCPPlusHandshake.OpenSessionRequest(tag: 7, privilege: 4, consoleSessionID: 0x0403_0201).encoded()
        #expect(bytes.count == 32)
        #expect(Array(bytes[0..<8]) == [7, 4, 0, 0, 1, 2, 3, 4])
        #expect(bytes[12] == 1 && bytes[20] == 1 && bytes[28] == 1)
        #expect(bytes[8] == 0 && bytes[16] == 1 && bytes[24] == 2)
    }

    /// ipmi_sim answers maximum privilege level 0 (reserved); the decoder keeps it for the session to judge.
    @Test func openSessionResponseWithPrivilegeZeroDecodes() throws {
        var bytes: [UInt8] = [7, 0, 0, 0]
        bytes.appendLE32(0x0403_0201)
        bytes.appendLE32(0x0A0B_0C0D)
        bytes += [0, 0, 0, 8, 1, 0, 0, 0, 1, 0, 0, 8, 1, 0, 0, 0, 2, 0, 0, 8, 1, 0, 0, 0]
        let response = try RMCPPlusHandshake.OpenSessionResponse.decode(bytes)
        #expect(response.maximumPrivilege == 0)
        #expect(response.bmcSessionID == 0x0A0B_0C0D)
        #expect(response.authAlgorithm == 1 && response.integrityAlgorithm == 1)
        #expect(response.confidentialityAlgorithm == 1)
        #expect(throws: IPMICodecError.self) {
            try RMCPPlusHandshake.OpenSessionResponse.decode(Array(bytes.prefix(30)))
        }
        let refused = try RMCPPlusHandshake.OpenSessionResponse.decode([7, 0x11, 0, 0])
        #expect(refused.status == 0x11)
    }

    @Test func rakpMessagesDecodeAndRejectShortInput() throws {
        let rakp2 = [UInt8]([1, 0, 0, 0, 4, 3, 2, 1]) + [UInt8](repeating: 0xAA, count: 16)
            + [UInt8](repeating: 0xBB, count: 16) + [UInt8](repeating: 0xCC, count: 20)
        let decoded = try RMCPPlusHandshake.RAKP2.decode(rakp2)
        #expect(decoded.consoleSessionID == 0x0102_0304)
        #expect(decoded.bmcRandom == [UInt8](repeating: 0xAA, count: 16))
        #expect(decoded.bmcGUID == [UInt8](repeating: 0xBB, count: 16))
        #expect(decoded.authCode == [UInt8](repeating: 0xCC, count: 20))
        #expect(throws: IPMICodecError.self) { try RMCPPlusHandshake.RAKP2.decode(Array(rakp2.prefix(59))) }
        #expect(try RMCPPlusHandshake.RAKP2.decode([1, 0x0D]).status == 0x0D)
        #expect(throws: IPMICodecError.self) { try RMCPPlusHandshake.RAKP4.decode([1, 0, 0, 0, 1]) }
        let rakp1 = RMCPPlusHandshake.RAKP1(
            tag: 1, bmcSessionID: 5, consoleRandom: [UInt8](repeating: 3, count: 16), role: 0x14,
            username: Array("admin".utf8)).encoded()
        #expect(rakp1.count == 28 + 5)
        #expect(rakp1[24] == 0x14 && rakp1[27] == 5)
    }

    @Test func bootFlagsForPXEOnceAndDiskPersistent() {
        #expect(IPMICommand.bootFlags(.pxe, persistence: .once) == [0x05, 0x80, 0x04, 0, 0, 0])
        #expect(IPMICommand.bootFlags(.disk, persistence: .persistent) == [0x05, 0xC0, 0x08, 0, 0, 0])
        let decoded = IPMICommand.decodeBootFlags([0x80, 0x04, 0, 0, 0])
        #expect(decoded?.device == .pxe && decoded?.persistence == .once && decoded?.valid == true)
    }
}
