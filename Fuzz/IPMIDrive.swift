// One drive of the RMCP/RMCP+ and IPMI decoders and of the session machine that reads a BMC's datagrams, shared by
// the libFuzzer harness (Fuzz/Harnesses/IPMIFuzz.swift) and the corpus replay test (Tests/PowerTests links it).
@testable import Drivers

/// Gives `bytes` to every decoder, for both cipher suites: as one datagram, as a stream drip-fed in three pieces
/// (every whole frame taken out as it completes), as each RMCP+ handshake message and IPMI response, and, with its
/// AuthCode made right for fixed session keys, to the decryption and confidentiality pad check. Then, read as
/// length-prefixed datagrams, feeds them to a session machine as a BMC's answers. Accepted when it decoded as a
/// datagram; the problem when a sealed payload does not open to itself.
func driveIPMI(_ bytes: [UInt8]) -> (accepted: Bool, problem: String?) {
    var accepted = false
    var problem: String?
    for suite in IPMICipherSuite.allCases {
        let packet = try? RMCPDecoder.decodeDatagram(bytes, authCodeSize: suite.integrityCheckSize)
        accepted = accepted || packet != nil
        var decoder = RMCPDecoder(authCodeSize: suite.integrityCheckSize)
        let size = bytes.count
        for chunk in [bytes[..<(size / 3)], bytes[(size / 3)..<(2 * size / 3)], bytes[(2 * size / 3)...]] {
            decoder.feed(chunk)
            while let result = try? decoder.next(), case .message = result {}
        }
        _ = try? RMCPPlusHandshake.RAKP2.decode(bytes, suite: suite)
        _ = try? RMCPPlusHandshake.RAKP4.decode(bytes, suite: suite)
        let keys = RMCPPlusSessionKeys(
            userKey: Array("fuzz".utf8), consoleRandom: [UInt8](repeating: 1, count: 16),
            bmcRandom: [UInt8](repeating: 2, count: 16), role: 0x14, username: Array("admin".utf8), suite: suite)
        if case .v20(var session)? = packet, session.authenticated {
            session.authCode = Array(
                IPMICrypto.hmac(suite.digest, key: keys.k1, session.integrityData).prefix(suite.integrityCheckSize))
            _ = try? keys.open(session)
        }
        if !reopens(Array(bytes.prefix(1024)), keys) {
            problem = "a payload sealed with \(suite) does not open to itself"
        }
    }
    _ = try? RMCPPlusHandshake.OpenSessionResponse.decode(bytes)
    _ = try? IPMIResponse.decode(bytes)
    _ = IPMICommand.decodeBootFlags(bytes)
    driveSession(bytes)
    return (accepted, problem)
}

/// Reads `bytes` as datagrams, each after a length byte, and gives them in turn to a session machine that has sent
/// its first requests (random bytes all zero, so a consoleSessionID the fuzzer can learn), as the client does.
private func driveSession(_ bytes: [UInt8]) {
    var machine = IPMISessionMachine(
        username: "admin", password: "fuzz", suites: IPMICipherSuite.strongestFirst,
        random: { [UInt8](repeating: 0, count: $0) })
    _ = machine.start()
    var rest = bytes[...]
    while let length = rest.first, machine.state != .failed {
        let datagram = Array(rest.dropFirst().prefix(Int(length)))
        rest = rest.dropFirst(1 + Int(length))
        _ = machine.receive(datagram)
    }
}

/// Whether `payload`, sealed into a session datagram with `keys`, decodes and opens to itself.
private func reopens(_ payload: [UInt8], _ keys: RMCPPlusSessionKeys) -> Bool {
    let iv = [UInt8](repeating: 3, count: 16)
    guard let sealed = try? keys.seal(payloadType: .ipmi, sessionID: 7, sequence: 1, payload: payload, iv: iv),
        case .v20(let packet) = try? RMCPDecoder.decodeDatagram(sealed, authCodeSize: keys.suite.integrityCheckSize)
    else { return false }
    return (try? keys.open(packet)) == payload
}
