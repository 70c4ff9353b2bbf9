/// The RMCP+ client session as a pure state machine: feed it datagrams and timeouts, it returns what to do.
///
/// It owns no socket and no clock (NIO-style state machines that *return* actions); `IPMIClient` drives it.
///
/// Two round trips are saved without skipping a step: Get Channel Authentication Capabilities goes out together
/// with Open Session (their answers may come in either order; a BMC without IPMI v2.0 still fails the session),
/// and Set Session Privilege Level is only sent when the command needs more than the User level a session starts at.
/// Randomness (session ID, RAKP random, AES IVs) comes from an injected source so tests can replay a session.
///
/// Cipher suites are tried in the order given (strongest first): a BMC that refuses one in its Open Session
/// Response (invalid algorithm, no matching suite) is asked again with the next, in a new session.
struct IPMISessionMachine: Sendable {
    /// Where the session is.
    enum State: Sendable, Equatable {
        case idle
        case awaitingOpenSession
        case awaitingRAKP2
        case awaitingRAKP4
        case awaitingPrivilege
        case established
        case awaitingResponse
        case awaitingClose
        case closed
        case failed
    }

    /// What the driver must do next.
    enum Action: Sendable, Equatable {
        /// Send these datagrams to the BMC, in order, and wait for an answer.
        case send([[UInt8]])
        /// The datagram moved the session on; keep waiting for the answer that completes the step.
        case wait
        /// The session is up; commands may be sent.
        case established
        /// The answer to the pending command.
        case response(IPMIResponse)
        /// The BMC confirmed the session close.
        case closed
        /// The datagram was not for us or failed a check; keep waiting. The reason is for debug logs.
        case ignore(String)
        /// The session cannot go on.
        case fail(Failure)
    }

    /// Why the session failed, classified like `PowerError`.
    struct Failure: Error, Sendable, Equatable {
        let code: PowerError.Code
        let detail: String
    }

    /// A source of random bytes.
    typealias RandomSource = @Sendable (Int) throws -> [UInt8]

    private(set) var state: State = .idle
    /// Deviations from the specification seen on this BMC and tolerated (e.g. ipmi_sim's privilege level 0).
    private(set) var quirks: [String] = []
    /// Datagrams dropped because they failed a check (garbled, wrong session), for error reports.
    private(set) var rejectedCount = 0

    private let username: [UInt8]
    private let userKey: [UInt8]
    private var privilege: UInt8
    /// The maximum privilege asked for in Open Session (0 asks for the highest the BMC allows).
    private let openSessionPrivilege: UInt8
    private let random: RandomSource
    /// The suites this session may use, in the order they are tried.
    private let suites: [IPMICipherSuite]
    private var suiteIndex = 0
    /// The suite of the current (or established) session.
    var suite: IPMICipherSuite { suites[min(suiteIndex, suites.count - 1)] }
    /// RAKP 3 was sent more than once: its RAKP 4 was lost, and the BMC may refuse the repeat.
    private var rakp3Repeated = false
    /// Handshakes started over after a lost RAKP 4.
    private(set) var restarts = 0
    private static let maximumRestarts = 2

    private var consoleSessionID: UInt32 = 0
    private var bmcSessionID: UInt32 = 0
    private var consoleRandom: [UInt8] = []
    private var bmcRandom: [UInt8] = []
    private var bmcGUID: [UInt8] = []
    private var keys: RMCPPlusSessionKeys?
    private var outboundSequence: UInt32 = 0
    private var requestSequence: UInt8 = 0
    private var pendingRequest: IPMIRequest?
    private var lastPlain: [[UInt8]] = []
    /// The Get Channel Authentication Capabilities request, until its answer came.
    private var pendingCapabilities: [UInt8]?
    /// Whether the session needs Set Session Privilege Level before the command (Operator or Administrator).
    private let raisePrivilege: Bool
    /// The message tag of this handshake attempt, echoed in every answer to it. Each Open Session (a first one, the
    /// next suite, a restart) takes a new one, so a slow BMC's late answer to an earlier attempt, which an error
    /// answer does not otherwise name (ipmi_sim's refusal is the tag and status alone), is told apart.
    private var tag: UInt8 = 0
    private var attemptsStarted: UInt8 = 0

    init(username: String, password: String, privilege: UInt8 = IPMICommand.administrator,
        openSessionPrivilege: UInt8? = nil, raisePrivilege: Bool = true, suites: [IPMICipherSuite] = [.suite3],
        random: @escaping RandomSource = { count in try IPMICrypto.randomBytes(count) })
    {
        self.suites = suites.isEmpty ? [.suite3] : suites
        self.raisePrivilege = raisePrivilege
        self.username = Array(username.utf8.prefix(16))
        self.userKey = Array(password.utf8.prefix(20))
        self.privilege = privilege
        self.openSessionPrivilege = openSessionPrivilege ?? privilege
        self.random = random
    }

    /// The role byte of RAKP 1: privilege plus name-only lookup.
    private var role: UInt8 { 0x10 | privilege }

    // MARK: Commands from the driver

    /// Starts the handshake with Get Channel Authentication Capabilities (an IPMI v1.5 packet).
    mutating func start() -> Action {
        guard state == .idle else { return .fail(Failure(code: .protocolViolation, detail: "session already started")) }
        let request = IPMIRequest(
            netFn: IPMICommand.appNetFn, command: IPMICommand.getChannelAuthCapabilities, sequence: 0,
            data: [0x8E, privilege])
        pendingCapabilities = IPMI15Packet(
            authType: 0, sequence: 0, sessionID: 0, authCode: [], message: request.encoded()
        ).encoded()
        return openNewSession(freshRandom: true)
    }

    /// Sends a command in the established session.
    mutating func request(netFn: UInt8, command: UInt8, data: [UInt8] = []) -> Action {
        guard state == .established else {
            return .fail(Failure(code: .protocolViolation, detail: "command sent before the session is up"))
        }
        requestSequence = (requestSequence + 1) & 0x3F
        let request = IPMIRequest(netFn: netFn, command: command, sequence: requestSequence, data: data)
        pendingRequest = request
        state = .awaitingResponse
        return sealPending()
    }

    /// Closes the established session.
    mutating func close() -> Action {
        guard state == .established else { return .closed }
        var data: [UInt8] = []
        data.appendLE32(bmcSessionID)
        requestSequence = (requestSequence + 1) & 0x3F
        pendingRequest = IPMIRequest(
            netFn: IPMICommand.appNetFn, command: IPMICommand.closeSession, sequence: requestSequence, data: data)
        state = .awaitingClose
        return sealPending()
    }

    /// The answer timed out: what to send again (a session message is resealed with a fresh sequence number,
    /// because the BMC drops a sequence number it has already seen).
    mutating func retransmit() -> Action {
        if state == .awaitingRAKP4 { rakp3Repeated = true }
        return switch state {
        case .awaitingOpenSession, .awaitingRAKP2, .awaitingRAKP4: .send(lastPlain)
        case .awaitingPrivilege, .awaitingResponse, .awaitingClose: sealPending()
        case .idle, .established, .closed, .failed:
            .fail(Failure(code: .protocolViolation, detail: "nothing to resend"))
        }
    }

    // MARK: Datagrams from the BMC

    /// Feeds one received datagram.
    mutating func receive(_ datagram: [UInt8]) -> Action {
        let packet: RMCPPacket
        do {
            packet = try RMCPDecoder.decodeDatagram(datagram, authCodeSize: suite.integrityCheckSize)
        } catch {
            return reject("undecodable datagram: \(error)")
        }
        switch (state, packet) {
        case (_, .v15(let v15)) where pendingCapabilities != nil:
            return receiveCapabilities(v15)
        case (.awaitingOpenSession, .v20(let v20))
        where v20.payloadType == RMCPPayloadType.openSessionResponse.rawValue:
            return receiveOpenSession(v20.payload)
        case (.awaitingRAKP2, .v20(let v20)) where v20.payloadType == RMCPPayloadType.rakp2.rawValue:
            return receiveRAKP2(v20.payload)
        case (.awaitingRAKP4, .v20(let v20)) where v20.payloadType == RMCPPayloadType.rakp4.rawValue:
            return receiveRAKP4(v20.payload)
        case (.awaitingPrivilege, .v20(let v20)), (.awaitingResponse, .v20(let v20)), (.awaitingClose, .v20(let v20)):
            return receiveSessionPacket(v20)
        default:
            return reject("unexpected packet in state \(state)")
        }
    }

    private mutating func receiveCapabilities(_ packet: IPMI15Packet) -> Action {
        guard let response = try? IPMIResponse.decode(packet.message),
            response.command == IPMICommand.getChannelAuthCapabilities
        else { return reject("not a Get Channel Authentication Capabilities response") }
        guard response.completionCode == 0 else {
            return fail(
                .bmcError,
                "Get Channel Authentication Capabilities: completion code \(hexByte(response.completionCode))")
        }
        guard response.data.count >= 4, response.data[1] & 0x80 != 0, response.data[3] & 0x02 != 0
        else { return fail(.unsupported, "the BMC does not offer IPMI v2.0 (RMCP+)") }
        pendingCapabilities = nil
        if state == .awaitingOpenSession { lastPlain = Array(lastPlain.suffix(1)) }
        return .wait
    }

    /// Sends Open Session Request (first time, the next suite, or again after a lost RAKP 4) under a new console
    /// session ID and, with `freshRandom`, a new console random number.
    private mutating func openNewSession(freshRandom: Bool) -> Action {
        do {
            consoleSessionID = try random(4).readLE32(at: 0) | 0x0100_0000
            if freshRandom { consoleRandom = try random(16) }
        } catch {
            return fail(.bmcError, "no random bytes")
        }
        state = .awaitingOpenSession
        tag = attemptsStarted
        attemptsStarted &+= 1
        rakp3Repeated = false
        let open = RMCPPlusHandshake.OpenSessionRequest(
            tag: tag, privilege: openSessionPrivilege, consoleSessionID: consoleSessionID, suite: suite)
        let datagram = RMCPPlusPacket.encodePlain(payloadType: .openSessionRequest, payload: open.encoded())
        return remember(pendingCapabilities.map { [$0, datagram] } ?? [datagram])
    }

    private mutating func receiveOpenSession(_ payload: [UInt8]) -> Action {
        guard let response = try? RMCPPlusHandshake.OpenSessionResponse.decode(payload) else {
            return reject("truncated Open Session Response")
        }
        guard response.tag == tag else { return reject("Open Session Response to an earlier attempt") }
        // An error answer may leave the console session ID out (0).
        guard response.consoleSessionID == consoleSessionID || (response.status != 0 && response.consoleSessionID == 0)
        else { return reject("Open Session for another session") }
        guard response.status == 0 else {
            guard [0x04, 0x05, 0x10, 0x11].contains(response.status) else {
                return failStatus("Open Session", response.status)
            }
            // The BMC does not take this suite: ask for the next one in a new session.
            guard suiteIndex + 1 < suites.count else {
                let allowed = suites.map { String($0.rawValue) }.joined(separator: ", ")
                return fail(.unsupported, "Open Session: the BMC accepts none of the allowed cipher suites "
                    + "(\(allowed)): \(RMCPPlusHandshake.statusName(response.status))")
            }
            quirks.append("\(suite) refused (\(RMCPPlusHandshake.statusName(response.status))); tried the next")
            suiteIndex += 1
            return openNewSession(freshRandom: false)
        }
        let algorithms = suite.algorithms
        guard response.authAlgorithm == algorithms.authentication, response.integrityAlgorithm == algorithms.integrity,
            response.confidentialityAlgorithm == algorithms.confidentiality
        else { return fail(.unsupported, "the BMC chose other algorithms than \(suite)") }
        if response.maximumPrivilege == 0 {
            // ipmi_sim answers 0 (reserved); FreeIPMI needs -W opensesspriv for it. Keep the requested level:
            // RAKP 2 and Set Session Privilege Level still enforce what the user may do.
            quirks.append("Open Session Response gave maximum privilege level 0; kept the requested level")
        } else if response.maximumPrivilege < privilege {
            privilege = response.maximumPrivilege
        }
        bmcSessionID = response.bmcSessionID
        state = .awaitingRAKP2
        let rakp1 = RMCPPlusHandshake.RAKP1(
            tag: tag, bmcSessionID: bmcSessionID, consoleRandom: consoleRandom, role: role, username: username)
        return remember([RMCPPlusPacket.encodePlain(payloadType: .rakp1, payload: rakp1.encoded())])
    }

    private mutating func receiveRAKP2(_ payload: [UInt8]) -> Action {
        guard let rakp2 = try? RMCPPlusHandshake.RAKP2.decode(payload, suite: suite) else {
            return reject("truncated RAKP 2")
        }
        guard rakp2.tag == tag else { return reject("RAKP 2 of an earlier attempt") }
        guard rakp2.status == 0 else { return failStatus("RAKP 2", rakp2.status) }
        guard rakp2.consoleSessionID == consoleSessionID else { return reject("RAKP 2 for another session") }
        let expected = RMCPPlusSessionKeys.rakp2AuthCode(
            userKey: userKey, consoleSessionID: consoleSessionID, bmcSessionID: bmcSessionID,
            consoleRandom: consoleRandom, bmcRandom: rakp2.bmcRandom, bmcGUID: rakp2.bmcGUID, role: role,
            username: username, suite: suite)
        guard constantTimeEqual(expected, rakp2.authCode) else {
            return fail(.authenticationFailed, "the BMC rejected the user name or password (RAKP 2 mismatch)")
        }
        bmcRandom = rakp2.bmcRandom
        bmcGUID = rakp2.bmcGUID
        keys = RMCPPlusSessionKeys(
            userKey: userKey, consoleRandom: consoleRandom, bmcRandom: bmcRandom, role: role, username: username,
            suite: suite)
        state = .awaitingRAKP4
        let rakp3 = RMCPPlusHandshake.RAKP3(
            tag: tag, status: 0, bmcSessionID: bmcSessionID,
            authCode: RMCPPlusSessionKeys.rakp3AuthCode(
                userKey: userKey, bmcRandom: bmcRandom, consoleSessionID: consoleSessionID, role: role,
                username: username, suite: suite))
        return remember([RMCPPlusPacket.encodePlain(payloadType: .rakp3, payload: rakp3.encoded())])
    }

    private mutating func receiveRAKP4(_ payload: [UInt8]) -> Action {
        guard let rakp4 = try? RMCPPlusHandshake.RAKP4.decode(payload, suite: suite), let keys else {
            return reject("truncated RAKP 4")
        }
        guard rakp4.tag == tag else { return reject("RAKP 4 of an earlier attempt") }
        guard rakp4.status == 0 else {
            // The first RAKP 4 was lost and the BMC, which already activated the session, refuses the repeated
            // RAKP 3: start the handshake over with a new session rather than fail.
            if rakp3Repeated, restarts < Self.maximumRestarts {
                restarts += 1
                return openNewSession(freshRandom: true)
            }
            return failStatus("RAKP 4", rakp4.status)
        }
        guard rakp4.consoleSessionID == consoleSessionID else { return reject("RAKP 4 for another session") }
        let expected = keys.rakp4IntegrityCheck(
            consoleRandom: consoleRandom, bmcSessionID: bmcSessionID, bmcGUID: bmcGUID)
        guard constantTimeEqual(expected, rakp4.integrityCheck) else {
            return reject("RAKP 4 integrity check value mismatch")
        }
        guard raisePrivilege else {
            state = .established
            return .established
        }
        requestSequence = (requestSequence + 1) & 0x3F
        pendingRequest = IPMIRequest(
            netFn: IPMICommand.appNetFn, command: IPMICommand.setSessionPrivilegeLevel, sequence: requestSequence,
            data: [privilege])
        state = .awaitingPrivilege
        return sealPending()
    }

    private mutating func receiveSessionPacket(_ packet: RMCPPlusPacket) -> Action {
        guard let keys, let pendingRequest else { return reject("no session") }
        guard packet.sessionID == consoleSessionID, packet.payloadType == RMCPPayloadType.ipmi.rawValue else {
            return reject("packet for another session or payload")
        }
        let response: IPMIResponse
        do {
            response = try IPMIResponse.decode(try keys.open(packet))
        } catch {
            return reject("session packet failed checks: \(error)")
        }
        guard response.sequence == pendingRequest.sequence, response.command == pendingRequest.command else {
            return reject("response to an earlier request")
        }
        self.pendingRequest = nil
        switch state {
        case .awaitingPrivilege:
            guard response.completionCode == 0 else {
                return fail(
                    response.completionCode == 0xC0 ? .busy : .insufficientPrivilege,
                    "Set Session Privilege Level: completion code \(hexByte(response.completionCode))")
            }
            state = .established
            return .established
        case .awaitingClose:
            state = .closed
            return .closed
        default:
            state = .established
            return .response(response)
        }
    }

    // MARK: Helpers

    private mutating func sealPending() -> Action {
        guard let keys, let pendingRequest else { return fail(.protocolViolation, "no pending request") }
        outboundSequence &+= 1
        if outboundSequence == 0 { outboundSequence = 1 }
        do {
            return .send([try keys.seal(
                payloadType: .ipmi, sessionID: bmcSessionID, sequence: outboundSequence,
                payload: pendingRequest.encoded(), iv: try random(16))])
        } catch {
            return fail(.bmcError, "cannot encrypt: \(error)")
        }
    }

    private mutating func remember(_ datagrams: [[UInt8]]) -> Action {
        lastPlain = datagrams
        return .send(datagrams)
    }

    private mutating func reject(_ reason: String) -> Action {
        rejectedCount += 1
        return .ignore(reason)
    }

    private mutating func fail(_ code: PowerError.Code, _ detail: String) -> Action {
        state = .failed
        return .fail(Failure(code: code, detail: detail))
    }

    private mutating func failStatus(_ step: String, _ status: UInt8) -> Action {
        let code: PowerError.Code =
            switch status {
            case 0x0D, 0x0E, 0x0F: .authenticationFailed
            case 0x01, 0x0B: .busy
            case 0x09, 0x0A: .insufficientPrivilege
            case 0x04, 0x05, 0x10, 0x11: .unsupported
            default: .protocolViolation
            }
        return fail(code, "\(step): \(RMCPPlusHandshake.statusName(status))")
    }
}
