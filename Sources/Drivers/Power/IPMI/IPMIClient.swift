import Logging
import NIOCore

/// A native IPMI v2.0 (RMCP+, lanplus) power driver for `ipmi://host[:port]`, cipher suites 17 and 3.
///
/// Each call opens a session (Get Channel Authentication Capabilities, Open Session, RAKP 1–4, Set Session
/// Privilege Level), sends its command, and closes the session. Many clients share one `IPMITransport`, so a
/// process drives thousands of BMCs from one UDP socket. The strongest allowed cipher suite the BMC accepts is
/// used (17, then 3); the transport remembers it per BMC, so only the first session pays for a refused suite.
public struct IPMIClient: PowerDriver {
    public let configuration: BMCConfiguration
    private let transport: IPMITransport
    private let logger: Logger

    /// The default RMCP port.
    public static let defaultPort = 623

    /// The privilege asked for in Open Session; nil asks for ADMINISTRATOR. 0 ("highest allowed") is what FreeIPMI
    /// asks for by default, and what makes ipmi_sim answer level 0 (tests use it to provoke that quirk).
    let openSessionPrivilege: UInt8?

    public init(configuration: BMCConfiguration, transport: IPMITransport, logger: Logger) {
        self.init(configuration: configuration, transport: transport, logger: logger, openSessionPrivilege: nil)
    }

    init(configuration: BMCConfiguration, transport: IPMITransport, logger: Logger, openSessionPrivilege: UInt8?) {
        self.openSessionPrivilege = openSessionPrivilege
        self.configuration = configuration
        self.transport = transport
        self.logger = configuration.labelling(logger)
    }

    public func powerState() async throws(PowerError) -> PowerState {
        let response = try await command(netFn: IPMICommand.chassisNetFn, command: IPMICommand.getChassisStatus)
        guard let state = response.data.first else {
            throw error(.protocolViolation, "Get Chassis Status response has no data")
        }
        return state & 0x01 != 0 ? .on : .off
    }

    public func setPower(_ action: PowerAction) async throws(PowerError) {
        _ = try await command(
            netFn: IPMICommand.chassisNetFn, command: IPMICommand.chassisControl,
            data: [IPMICommand.chassisControlCode(action)], operator: true)
    }

    public func setBootDevice(_ device: BootDevice, persistence: BootPersistence) async throws(PowerError) {
        _ = try await command(
            netFn: IPMICommand.chassisNetFn, command: IPMICommand.setSystemBootOptions,
            data: IPMICommand.bootFlags(device, persistence: persistence), operator: true)
    }

    /// Reads the boot flags back (Get System Boot Options, parameter 5); a nil device is "no override".
    ///
    /// `valid` is the flags' valid bit; some BMCs (ipmi_sim) report the selector with the bit cleared.
    public func bootFlags() async throws(PowerError)
        -> (device: BootDevice?, persistence: BootPersistence, valid: Bool)
    {
        let response = try await command(
            netFn: IPMICommand.chassisNetFn, command: IPMICommand.getSystemBootOptions, data: [0x05, 0x00, 0x00],
            operator: true)
        guard response.data.count >= 4, let flags = IPMICommand.decodeBootFlags(Array(response.data[2...])) else {
            throw error(.protocolViolation, "Get System Boot Options response too short")
        }
        return flags
    }

    /// Opens and closes a session and returns the deviations from the specification the BMC showed.
    public func sessionQuirks() async throws(PowerError) -> [String] {
        let (response, quirks) = try await session(
            netFn: IPMICommand.chassisNetFn, command: IPMICommand.getChassisStatus, data: [], operator: false)
        if let failure = Self.classify(completionCode: response.completionCode) {
            throw error(failure, "Get Chassis Status completion code \(hexByte(response.completionCode))")
        }
        return quirks
    }

    /// Runs one command in a fresh session; a non-zero completion code becomes a classified error.
    ///
    /// `operator` commands (Chassis Control, System Boot Options) first raise the session to ADMINISTRATOR;
    /// reads run at the User level a session starts at, one round trip shorter.
    func command(netFn: UInt8, command: UInt8, data: [UInt8] = [], operator: Bool = false) async throws(PowerError)
        -> IPMIResponse
    {
        let (response, _) = try await session(netFn: netFn, command: command, data: data, operator: `operator`)
        if let failure = Self.classify(completionCode: response.completionCode) {
            throw error(
                failure,
                "command \(hexByte(netFn)):\(hexByte(command)) completion code \(hexByte(response.completionCode))")
        }
        return response
    }

    /// Opens a session, runs one command, closes the session; returns the response and the BMC's quirks.
    private func session(netFn: UInt8, command: UInt8, data: [UInt8], operator: Bool) async throws(PowerError)
        -> (IPMIResponse, [String])
    {
        let socketAddress = try resolve()
        let config = configuration
        let logger = logger
        let openSessionPrivilege = openSessionPrivilege
        let transport = transport
        let bmc = "\(config.address)"
        return try await transport.withRoute(to: socketAddress) {
            route throws(PowerError) -> (IPMIResponse, [String]) in
            var session = SessionDriver(
                machine: IPMISessionMachine(
                    username: config.username, password: config.password, openSessionPrivilege: openSessionPrivilege,
                    raisePrivilege: `operator`, suites: transport.suites(for: bmc, allowed: config.cipherSuites)),
                route: route,
                configuration: config, logger: logger)
            let start = session.machine.start()
            guard case .established = try await session.drive(start) else {
                throw session.error(.protocolViolation, "session setup ended early")
            }
            for quirk in session.machine.quirks {
                logger.debug("tolerated BMC quirk", metadata: ["ipmi.quirk": "\(quirk)"])
            }
            transport.remember(session.machine.suite, for: bmc)
            let request = session.machine.request(netFn: netFn, command: command, data: data)
            guard case .response(let response) = try await session.drive(request) else {
                throw session.error(.protocolViolation, "no response")
            }
            let close = session.machine.close()
            do {
                // One retransmit at most: if the reply to a repeated close was lost, the BMC no longer knows the
                // session and stays silent; the command already succeeded.
                _ = try await session.drive(close, retries: 1)
            } catch {
                logger.debug("session close not confirmed", metadata: ["error": "\(error)"])
            }
            return (response, session.machine.quirks)
        }
    }

    /// Maps an IPMI completion code to an error class; nil for success.
    static func classify(completionCode: UInt8) -> PowerError.Code? {
        switch completionCode {
        case 0x00: nil
        case 0xC0: .busy
        case 0xC1, 0xC2, 0xC9, 0xD5, 0xD6: .unsupported
        case 0xD4: .insufficientPrivilege
        default: .bmcError
        }
    }

    private func resolve() throws(PowerError) -> SocketAddress {
        let port = configuration.address.port ?? Self.defaultPort
        // An IP literal needs no resolver (getaddrinfo asks the kernel for interface addresses every time).
        if let literal = try? SocketAddress(ipAddress: configuration.address.host, port: port) { return literal }
        do {
            return try SocketAddress.makeAddressResolvingHost(configuration.address.host, port: port)
        } catch {
            throw self.error(.unreachable, "cannot resolve host")
        }
    }

    private func error(_ code: PowerError.Code, _ detail: String) -> PowerError {
        PowerError(code, bmc: "\(configuration.address)", detail)
    }
}

/// Drives the session machine over a route: sends, waits with a deadline, retransmits, classifies failures.
private struct SessionDriver {
    var machine: IPMISessionMachine
    let route: IPMIRoute
    let configuration: BMCConfiguration
    let logger: Logger

    /// Performs actions until the machine reaches a terminal one (established, response, closed).
    mutating func drive(_ first: IPMISessionMachine.Action, retries: Int? = nil) async throws(PowerError)
        -> IPMISessionMachine.Action
    {
        let retries = retries ?? configuration.retries
        var action = first
        var attempts = 0
        while true {
            switch action {
            case .send(let datagrams):
                for datagram in datagrams { route.send(datagram) }
                action = try await awaitAnswer(attempts: &attempts, retries: retries)
            case .fail(let failure):
                throw self.error(failure.code, failure.detail)
            case .ignore, .wait:
                preconditionFailure("awaitAnswer never returns .ignore or .wait")
            case .established, .response, .closed:
                return action
            }
        }
    }

    /// Waits for a datagram the machine accepts; on timeout returns the retransmission, or throws when out of tries.
    private mutating func awaitAnswer(attempts: inout Int, retries: Int) async throws(PowerError)
        -> IPMISessionMachine.Action
    {
        let sent = ContinuousClock.now
        let deadline = sent.advanced(by: configuration.timeout)
        // In a fan-out, a BMC that has not answered within the slot's patience (a few of the answer times seen so
        // far) lets another take its place while it keeps waiting for its answer until the deadline.
        let slot = FanOutSlot.current
        var patience = slot?.patience.map { sent.advanced(by: $0) }.flatMap { $0 < deadline ? $0 : nil }
        while true {
            guard let datagram = await route.receive(until: patience ?? deadline) else {
                if Task.isCancelled { throw error(.unreachable, "cancelled") }
                guard patience != nil else { break }
                patience = nil
                slot?.stalled()
                continue
            }
            let action = machine.receive(datagram)
            if case .ignore(let reason) = action {
                logger.debug("ignored datagram", metadata: ["ipmi.reason": "\(reason)"])
                continue
            }
            if case .wait = action { continue }
            if attempts == 0 { slot?.answered(after: sent.duration(to: .now)) }
            return action
        }
        // A whole timeout without an answer: in a fan-out, let a BMC that answers take this call's place.
        slot?.stalled()
        attempts += 1
        guard attempts <= retries else {
            if machine.rejectedCount > 0 {
                throw error(
                    .protocolViolation,
                    "no valid answer after \(attempts) tries; \(machine.rejectedCount) garbled or stray datagrams")
            }
            throw error(
                .unreachable, "no answer after \(attempts) tries of \(configuration.timeout) in \(machine.state)")
        }
        logger.debug("retransmitting", metadata: ["ipmi.attempt": "\(attempts)", "ipmi.state": "\(machine.state)"])
        return machine.retransmit()
    }

    func error(_ code: PowerError.Code, _ detail: String) -> PowerError {
        PowerError(code, bmc: "\(configuration.address)", detail)
    }
}
