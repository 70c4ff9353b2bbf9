import MemberwiseInit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Many simulated IPMI v2.0 BMCs in one process, each on a UDP address of its own, for tests and benchmarks.
///
/// Each answers as `ipmi_sim` does for what power status and control need: Get Channel Authentication
/// Capabilities, Open Session (cipher suites 3 and 17; the maximum privilege echoes the one asked for, so FreeIPMI
/// needs `-W opensesspriv` as with ipmi_sim), RAKP 1–4, Set Session Privilege Level, Get Chassis Status, Chassis
/// Control and Close Session; any other command gets completion code 0xC1. A silent BMC reads and drops every
/// datagram, as a BMC that is powered down or cut off: its socket stays bound, so no ICMP error comes back.
/// Not a product feature: `reconcile dev bmc-sim` and the tests start it.
public final class SimulatedBMCs: Sendable {
    /// One BMC to simulate.
    @PublicMemberwiseInit
    public struct Spec: Sendable {
        /// Where it listens (port 0: one the kernel picks).
        public var address: SocketAddress
        public var poweredOn: Bool
        /// Never answers.
        public var silent: Bool
    }

    /// The bound address of each BMC, in the order of the specs.
    public let addresses: [SocketAddress]
    private let channels: [any Channel]
    private let states: [BMCState]

    /// The event loops made by `start(count:…)`, shut down with the BMCs.
    private let ownGroup: MultiThreadedEventLoopGroup?

    private init(
        addresses: [SocketAddress], channels: [any Channel], states: [BMCState],
        group: MultiThreadedEventLoopGroup? = nil
    ) {
        self.addresses = addresses
        self.channels = channels
        self.states = states
        ownGroup = group
    }

    /// Binds every BMC; throws (after closing what was bound) if one address cannot be bound.
    public static func start(
        _ specs: [Spec], username: String, password: String,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SimulatedBMCs {
        let states = specs.enumerated().map { index, spec in
            BMCState(
                index: index, username: Array(username.utf8.prefix(16)), password: Array(password.utf8.prefix(20)),
                poweredOn: spec.poweredOn, silent: spec.silent)
        }
        // Every bind is under way at once: thousands of sockets bind in a fraction of the time one by one takes.
        let binding = zip(specs, states).map { spec, state in
            // No SO_REUSEADDR: a second simulator on the same addresses fails to bind instead of sharing them.
            DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramHandler { bytes, _ in state.answer(bytes) })
                    }
                }
                .bind(to: spec.address)
        }
        var channels: [any Channel] = []
        var failure: (any Error)?
        for future in binding {
            do {
                channels.append(try await future.get())
            } catch {
                failure = failure ?? error
            }
        }
        if let failure {
            for channel in channels { try? await channel.close() }
            throw failure
        }
        return SimulatedBMCs(
            addresses: channels.compactMap(\.localAddress), channels: channels, states: states)
    }

    /// `count` BMCs on consecutive IPv4 addresses from `firstAddress` (e.g. 127.77.0.1), all on `port` (0: each
    /// its own, picked by the kernel), on their own `threads` event loops. Every third is on (0, 3, 6, ...);
    /// `silentPercent` of them, spread evenly, never answer (`isSilent`).
    public static func start(
        count: Int, firstAddress: String, port: Int = 0, silentPercent: Int, username: String, password: String,
        threads: Int = 1
    ) async throws -> SimulatedBMCs {
        let octets = firstAddress.split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 < 256 }) else {
            throw SimulatedBMCError("\(firstAddress) is not an IPv4 address")
        }
        let first = octets.reduce(0) { $0 << 8 | $1 }
        guard count >= 0, UInt64(first) + UInt64(count) <= UInt64(UInt32.max) else {
            throw SimulatedBMCError("\(count) addresses from \(firstAddress) do not fit in IPv4")
        }
        var specs: [Spec] = []
        for index in 0..<count {
            let value = first + UInt32(index)
            let host = [24, 16, 8, 0].map { String((value >> $0) & 0xFF) }.joined(separator: ".")
            specs.append(Spec(
                address: try SocketAddress(ipAddress: host, port: port), poweredOn: index % 3 == 0,
                silent: isSilent(index, percent: silentPercent)))
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        do {
            let bmcs = try await start(specs, username: username, password: password, group: group)
            return SimulatedBMCs(
                addresses: bmcs.addresses, channels: bmcs.channels, states: bmcs.states, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Whether BMC `index` of a set with `percent` silent ones is silent: spread evenly (20: 4, 9, 14, ...).
    public static func isSilent(_ index: Int, percent: Int) -> Bool {
        (index + 1) * percent / 100 != index * percent / 100
    }

    /// The `ipmi://host:port` URL of each BMC.
    public var urls: [String] {
        addresses.map { "ipmi://\($0.ipAddress ?? "?"):\($0.port ?? 0)" }
    }

    /// Whether BMC `index` never answers.
    public func isSilent(_ index: Int) -> Bool { states[index].silent }

    /// Whether BMC `index` holds its chassis on.
    public func isPoweredOn(_ index: Int) -> Bool { states[index].locked.withLockedValue { $0.poweredOn } }

    /// How many datagrams BMC `index` received (answered or, if silent, dropped).
    public func datagramsReceived(_ index: Int) -> Int { states[index].locked.withLockedValue { $0.received } }

    /// Closes every socket.
    public func shutdown() async {
        for channel in channels { try? await channel.close() }
        try? await ownGroup?.shutdownGracefully()
    }
}

/// A simulated BMC set that cannot be made as asked.
public struct SimulatedBMCError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// One simulated BMC's chassis and sessions.
final class BMCState: Sendable {
    struct Session {
        var consoleSessionID: UInt32
        var suite: IPMICipherSuite
        var consoleRandom: [UInt8] = []
        var bmcRandom: [UInt8] = []
        var role: UInt8 = 0
        var username: [UInt8] = []
        var keys: RMCPPlusSessionKeys?
        var active = false
        var outboundSequence: UInt32 = 0
    }

    struct Mutable {
        var poweredOn: Bool
        var received = 0
        var sessions: [UInt32: Session] = [:]
        var nextSessionID: UInt32
    }

    let username: [UInt8]
    let password: [UInt8]
    let silent: Bool
    let guid: [UInt8]
    let locked: NIOLockedValueBox<Mutable>
    /// Sessions a BMC keeps open at once; a new one beyond it replaces an arbitrary old one.
    static let sessionLimit = 32

    init(index: Int, username: [UInt8], password: [UInt8], poweredOn: Bool, silent: Bool) {
        self.username = username
        self.password = password
        self.silent = silent
        var guid = [UInt8](repeating: 0xA1, count: 16)
        guid.replaceSubrange(0..<4, with: [UInt8(index & 0xFF), UInt8((index >> 8) & 0xFF),
                                           UInt8((index >> 16) & 0xFF), 0x5A])
        self.guid = guid
        locked = NIOLockedValueBox(Mutable(poweredOn: poweredOn, nextSessionID: 0x0200_0000 | UInt32(index)))
    }

    /// The datagrams to send back for one received datagram (none for a silent BMC or a datagram it drops).
    func answer(_ datagram: [UInt8]) -> [UInt8]? {
        let silent = locked.withLockedValue { state -> Bool in
            state.received += 1
            return self.silent
        }
        guard !silent, datagram.count >= 16, datagram[0] == 0x06 else { return nil }
        if datagram[4] != 0x06 { return answerV15(datagram) }
        let payloadType = datagram[5] & 0x3F
        let sessionID = datagram.readLE32(at: 6)
        return locked.withLockedValue { state -> [UInt8]? in
            if datagram[5] & 0x40 == 0 {
                return answerHandshake(payloadType, datagram, &state)
            }
            guard var session = state.sessions[sessionID], session.active, let keys = session.keys,
                case .v20(let packet)? = try? RMCPDecoder.decodeDatagram(
                    datagram, authCodeSize: session.suite.integrityCheckSize),
                let plain = try? keys.open(packet), let request = Request(plain)
            else { return nil }
            let (code, data) = execute(request, &state)
            if request.netFn == IPMICommand.appNetFn, request.command == IPMICommand.closeSession {
                state.sessions[sessionID] = nil
            }
            session.outboundSequence &+= 1
            if state.sessions[sessionID] != nil { state.sessions[sessionID] = session }
            let response = IPMIResponse(
                netFn: request.netFn | 1, command: request.command, sequence: request.sequence,
                completionCode: code, data: data)
            guard let iv = try? IPMICrypto.randomBytes(16) else { return nil }
            return try? keys.seal(
                payloadType: .ipmi, sessionID: session.consoleSessionID, sequence: session.outboundSequence,
                payload: response.encoded(), iv: iv)
        }
    }

    /// Get Channel Authentication Capabilities, the one IPMI v1.5 message answered: IPMI v2.0 offered.
    private func answerV15(_ datagram: [UInt8]) -> [UInt8]? {
        guard case .v15(let packet)? = try? RMCPDecoder.decodeDatagram(datagram), let request = Request(packet.message),
            request.netFn == IPMICommand.appNetFn, request.command == IPMICommand.getChannelAuthCapabilities
        else { return nil }
        let response = IPMIResponse(
            netFn: request.netFn | 1, command: request.command, sequence: request.sequence, completionCode: 0,
            data: [0x01, 0x80 | 0x14, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00])
        return IPMI15Packet(authType: 0, sequence: 0, sessionID: 0, authCode: [], message: response.encoded())
            .encoded()
    }

    /// Open Session, RAKP 1 and RAKP 3: the unauthenticated payloads of session setup.
    private func answerHandshake(_ payloadType: UInt8, _ datagram: [UInt8], _ state: inout Mutable) -> [UInt8]? {
        let length = Int(datagram.readLE16(at: 14))
        guard datagram.count >= 16 + length else { return nil }
        let payload = Array(datagram[16..<(16 + length)])
        switch payloadType {
        case RMCPPayloadType.openSessionRequest.rawValue:
            guard payload.count >= 32 else { return nil }
            let consoleSessionID = payload.readLE32(at: 4)
            let algorithms = (payload[12] & 0x3F, payload[20] & 0x3F, payload[28] & 0x3F)
            guard let suite = IPMICipherSuite.strongestFirst.first(where: {
                $0.algorithms == algorithms
            }) else {
                var refusal: [UInt8] = [payload[0], 0x11, 0, 0]
                refusal.appendLE32(consoleSessionID)
                return RMCPPlusPacket.encodePlain(payloadType: .openSessionResponse, payload: refusal)
            }
            // A repeated request (its answer was lost or late) gets the same session, as the first did.
            let repeated = state.sessions.first { $0.value.consoleSessionID == consoleSessionID && !$0.value.active }
            let bmcSessionID: UInt32
            if let repeated {
                bmcSessionID = repeated.key
            } else {
                if state.sessions.count >= Self.sessionLimit, let old = state.sessions.keys.first {
                    state.sessions[old] = nil
                }
                state.nextSessionID &+= 0x0001_0000
                bmcSessionID = state.nextSessionID
                state.sessions[bmcSessionID] = Session(consoleSessionID: consoleSessionID, suite: suite)
            }
            var answer: [UInt8] = [payload[0], 0x00, payload[1] & 0x0F, 0x00]
            answer.appendLE32(consoleSessionID)
            answer.appendLE32(bmcSessionID)
            answer += [0x00, 0, 0, 0x08, algorithms.0, 0, 0, 0, 0x01, 0, 0, 0x08, algorithms.1, 0, 0, 0]
            answer += [0x02, 0, 0, 0x08, algorithms.2, 0, 0, 0]
            return RMCPPlusPacket.encodePlain(payloadType: .openSessionResponse, payload: answer)
        case RMCPPayloadType.rakp1.rawValue:
            guard payload.count >= 28, payload.count >= 28 + Int(payload[27]) else { return nil }
            let bmcSessionID = payload.readLE32(at: 4)
            guard var session = state.sessions[bmcSessionID], !session.active else { return nil }
            // A repeated RAKP 1 gets the same random number, so the RAKP 3 made from the first RAKP 2 still holds.
            let repeated = session.consoleRandom == Array(payload[8..<24]) && !session.bmcRandom.isEmpty
            guard let bmcRandom = repeated ? session.bmcRandom : try? IPMICrypto.randomBytes(16) else { return nil }
            session.consoleRandom = Array(payload[8..<24])
            session.role = payload[24]
            session.username = Array(payload[28..<(28 + Int(payload[27]))])
            var answer: [UInt8] = [payload[0], 0x00, 0, 0]
            answer.appendLE32(session.consoleSessionID)
            guard session.username == username else {
                answer[1] = 0x0D
                return RMCPPlusPacket.encodePlain(payloadType: .rakp2, payload: answer)
            }
            session.bmcRandom = bmcRandom
            session.keys = RMCPPlusSessionKeys(
                userKey: password, consoleRandom: session.consoleRandom, bmcRandom: bmcRandom, role: session.role,
                username: session.username, suite: session.suite)
            state.sessions[bmcSessionID] = session
            answer += bmcRandom + guid + RMCPPlusSessionKeys.rakp2AuthCode(
                userKey: password, consoleSessionID: session.consoleSessionID, bmcSessionID: bmcSessionID,
                consoleRandom: session.consoleRandom, bmcRandom: bmcRandom, bmcGUID: guid, role: session.role,
                username: session.username, suite: session.suite)
            return RMCPPlusPacket.encodePlain(payloadType: .rakp2, payload: answer)
        case RMCPPayloadType.rakp3.rawValue:
            guard payload.count >= 8 else { return nil }
            let bmcSessionID = payload.readLE32(at: 4)
            guard var session = state.sessions[bmcSessionID], let keys = session.keys else { return nil }
            var answer: [UInt8] = [payload[0], 0x00, 0, 0]
            answer.appendLE32(session.consoleSessionID)
            let expected = RMCPPlusSessionKeys.rakp3AuthCode(
                userKey: password, bmcRandom: session.bmcRandom, consoleSessionID: session.consoleSessionID,
                role: session.role,
                username: session.username, suite: session.suite)
            guard constantTimeEqual(expected, Array(payload[8...])) else {
                answer[1] = 0x0F
                state.sessions[bmcSessionID] = nil
                return RMCPPlusPacket.encodePlain(payloadType: .rakp4, payload: answer)
            }
            session.active = true
            state.sessions[bmcSessionID] = session
            answer += keys.rakp4IntegrityCheck(
                consoleRandom: session.consoleRandom, bmcSessionID: bmcSessionID, bmcGUID: guid)
            return RMCPPlusPacket.encodePlain(payloadType: .rakp4, payload: answer)
        default:
            return nil
        }
    }

    /// Runs one command of an active session: its completion code and response data.
    private func execute(_ request: Request, _ state: inout Mutable) -> (UInt8, [UInt8]) {
        switch (request.netFn, request.command) {
        case (IPMICommand.appNetFn, IPMICommand.setSessionPrivilegeLevel):
            return (0x00, [request.data.first.map { $0 == 0 ? IPMICommand.administrator : $0 & 0x0F } ?? 0x04])
        case (IPMICommand.appNetFn, IPMICommand.closeSession):
            return (0x00, [])
        case (IPMICommand.chassisNetFn, IPMICommand.getChassisStatus):
            return (0x00, [state.poweredOn ? 0x01 : 0x00, 0x00, 0x00])
        case (IPMICommand.chassisNetFn, IPMICommand.chassisControl):
            switch request.data.first {
            case 0x00, 0x05: state.poweredOn = false
            case 0x01, 0x02, 0x03: state.poweredOn = true
            default: return (0xCC, [])
            }
            return (0x00, [])
        default:
            return (0xC1, [])
        }
    }

    /// An IPMI request as a BMC reads it off the LAN (the mirror of `IPMIRequest.encoded()`).
    struct Request {
        var netFn: UInt8
        var command: UInt8
        var sequence: UInt8
        var data: [UInt8]

        init?(_ bytes: [UInt8]) {
            guard bytes.count >= 7, ipmiChecksum(bytes[0..<2]) == bytes[2],
                ipmiChecksum(bytes[3..<(bytes.count - 1)]) == bytes[bytes.count - 1]
            else { return nil }
            netFn = bytes[1] >> 2
            sequence = bytes[4] >> 2
            command = bytes[5]
            data = Array(bytes[6..<(bytes.count - 1)])
        }
    }
}
