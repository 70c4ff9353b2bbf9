import Foundation
import Testing

@testable import Drivers

/// The session state machine, fed by hand: pipelined capabilities query, the privilege-0 quirk, refusals.
struct IPMISessionMachineTests {
    static func machine(raisePrivilege: Bool = true) -> IPMISessionMachine {
        IPMISessionMachine(
            username: "admin", password: "pass", raisePrivilege: raisePrivilege,
            random: { count in [UInt8](repeating: 0x11, count: count) })
    }

    /// A Get Channel Authentication Capabilities answer, with or without IPMI v2.0.
    static func capabilities(v2: Bool) -> [UInt8] {
        let response = IPMIResponse(
            netFn: 0x07, command: 0x38, sequence: 0, completionCode: 0,
            data: [0x01, v2 ? 0x97 : 0x17, 0x04, v2 ? 0x03 : 0x01, 0, 0, 0, 0])
        return IPMI15Packet(authType: 0, sequence: 0, sessionID: 0, authCode: [], message: response.encoded()).encoded()
    }

    static func openSessionResponse(privilege: UInt8, consoleSessionID: UInt32, tag: UInt8 = 0) -> [UInt8] {
        var payload: [UInt8] = [tag, 0, privilege, 0]
        payload.appendLE32(consoleSessionID)
        payload.appendLE32(0x0200_0001)
        payload += [0, 0, 0, 8, 1, 0, 0, 0, 1, 0, 0, 8, 1, 0, 0, 0, 2, 0, 0, 8, 1, 0, 0, 0]
        return RMCPPlusPacket.encodePlain(payloadType: .openSessionResponse, payload: payload)
    }

    @Test func startSendsTheCapabilitiesQueryAndOpenSessionTogether() throws {
        var machine = Self.machine()
        guard case .send(let datagrams) = machine.start() else {
            Issue.record("start must send")
            return
        }
        #expect(datagrams.count == 2)
        guard case .v15(let capabilities) = try RMCPDecoder.decodeDatagram(datagrams[0]),
            case .v20(let open) = try RMCPDecoder.decodeDatagram(datagrams[1])
        else {
            Issue.record("expected a v1.5 capabilities query, then an RMCP+ packet")
            return
        }
        #expect(capabilities.message[5] == IPMICommand.getChannelAuthCapabilities)
        #expect(open.payloadType == RMCPPayloadType.openSessionRequest.rawValue)
        #expect(machine.state == .awaitingOpenSession)
    }

    @Test func aBMCWithoutIPMI2FailsAsUnsupported() {
        var machine = Self.machine()
        _ = machine.start()
        #expect(machine.receive(Self.capabilities(v2: false)) == .fail(.init(code: .unsupported,
            detail: "the BMC does not offer IPMI v2.0 (RMCP+)")))
    }

    /// The capabilities answer may come before or after the Open Session answer.
    @Test(arguments: [true, false])
    func capabilitiesMayArriveInEitherOrder(capabilitiesFirst: Bool) throws {
        var machine = Self.machine()
        guard case .send(let datagrams) = machine.start(),
            case .v20(let open) = try RMCPDecoder.decodeDatagram(datagrams[1])
        else { return }
        let consoleSessionID = open.payload.readLE32(at: 4)
        let openResponse = Self.openSessionResponse(privilege: 4, consoleSessionID: consoleSessionID)
        if capabilitiesFirst { #expect(machine.receive(Self.capabilities(v2: true)) == .wait) }
        guard case .send(let rakp1) = machine.receive(openResponse) else {
            Issue.record("Open Session Response must lead to RAKP 1")
            return
        }
        guard case .v20(let packet) = try RMCPDecoder.decodeDatagram(rakp1[0]) else { return }
        #expect(packet.payloadType == RMCPPayloadType.rakp1.rawValue)
        if !capabilitiesFirst { #expect(machine.receive(Self.capabilities(v2: true)) == .wait) }
        #expect(machine.state == .awaitingRAKP2)
        #expect(machine.rejectedCount == 0)
    }

    @Test func maximumPrivilegeZeroIsAcceptedAsAQuirk() throws {
        var machine = Self.machine()
        guard case .send(let datagrams) = machine.start(),
            case .v20(let open) = try RMCPDecoder.decodeDatagram(datagrams[1])
        else { return }
        let response = Self.openSessionResponse(privilege: 0, consoleSessionID: open.payload.readLE32(at: 4))
        guard case .send(let rakp1) = machine.receive(response),
            case .v20(let packet) = try RMCPDecoder.decodeDatagram(rakp1[0])
        else {
            Issue.record("privilege 0 must not end the session")
            return
        }
        #expect(packet.payload[24] == 0x14, "RAKP 1 still asks for ADMINISTRATOR, name-only lookup")
        #expect(machine.quirks.count == 1)
    }

    @Test func anOpenSessionRefusalIsClassified() throws {
        var machine = Self.machine()
        _ = machine.start()
        let refusal = RMCPPlusPacket.encodePlain(payloadType: .openSessionResponse, payload: [0, 0x01, 0, 0])
        guard case .fail(let failure) = machine.receive(refusal) else {
            Issue.record("a refusal must fail the session")
            return
        }
        #expect(failure.code == .busy, "insufficient resources: the BMC is out of sessions")
    }

    /// A slow BMC that takes suite 3 only: the answer to the first Open Session (suite 17) was late, so it was sent
    /// again, and the BMC refuses both. The second refusal comes while suite 3 is asked for; ipmi_sim's refusal is
    /// the message tag and the status alone, and the tag is the earlier attempt's, so it is not taken as a refusal
    /// of suite 3 (which ended the handshake with "accepts none of the allowed cipher suites" against ipmi_sim with a
    /// 400 ms timeout). A refusal that names the earlier console session is not either.
    @Test(arguments: [false, true])
    func aLateRefusalOfAnEarlierSuiteIsNotARefusalOfTheNext(namesTheSession: Bool) throws {
        let draws = DrawCounter()
        var machine = IPMISessionMachine(
            username: "admin", password: "pass", suites: [.suite17, .suite3],
            random: { count in [UInt8](repeating: draws.next(), count: count) })
        guard case .send(let first) = machine.start(), case .v20(let open17) = try RMCPDecoder.decodeDatagram(first[1])
        else { return }
        let session17 = open17.payload.readLE32(at: 4)
        var refusal: [UInt8] = [open17.payload[0], 0x04]  // invalid authentication algorithm
        if namesTheSession {
            refusal += [0, 0]
            refusal.appendLE32(session17)
        }
        let refused = RMCPPlusPacket.encodePlain(payloadType: .openSessionResponse, payload: refusal)
        guard case .send(let again) = machine.retransmit(), again.last == first.last else {
            Issue.record("a timeout sends the same Open Session again")
            return
        }
        guard case .send(let next) = machine.receive(refused),
            case .v20(let open3) = try RMCPDecoder.decodeDatagram(next[next.count - 1])
        else {
            Issue.record("a refused suite 17 asks for suite 3")
            return
        }
        let session3 = open3.payload.readLE32(at: 4)
        #expect(session3 != session17 && open3.payload[0] != open17.payload[0] && machine.suite == .suite3)
        guard case .ignore = machine.receive(refused) else {
            Issue.record("the refusal of the repeated suite 17 request must be ignored")
            return
        }
        let answer = Self.openSessionResponse(privilege: 4, consoleSessionID: session3, tag: open3.payload[0])
        guard case .send = machine.receive(answer) else {
            Issue.record("suite 3's answer leads to RAKP 1")
            return
        }
        #expect(machine.state == .awaitingRAKP2 && machine.rejectedCount == 1)
    }

    @Test func strayAndGarbageDatagramsAreIgnoredAndCounted() {
        var machine = Self.machine()
        _ = machine.start()
        if case .ignore = machine.receive([0x06, 0x00, 0xFF, 0x07, 0x06]) {} else { Issue.record("truncated") }
        if case .ignore = machine.receive([1, 2, 3]) {} else { Issue.record("garbage") }
        let otherSession = Self.openSessionResponse(privilege: 4, consoleSessionID: 0xDEAD_BEEF)
        if case .ignore = machine.receive(otherSession) {} else { Issue.record("another session's answer") }
        #expect(machine.rejectedCount == 3)
        #expect(machine.state == .awaitingOpenSession)
    }
}

/// Distinct random draws for a machine that must tell its sessions apart.
private final class DrawCounter: @unchecked Sendable {
    private var value: UInt8 = 0
    private let lock = NSLock()
    func next() -> UInt8 { lock.withLock { value &+= 1; return value } }
}
