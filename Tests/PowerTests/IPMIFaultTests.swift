import LabSupport
import Logging
import Testing

@testable import Drivers

/// The IPMI client against a real `ipmi_sim` when things go wrong: wrong password, wrong port, lost and garbled
/// datagrams (through a fault-injecting UDP relay).
struct IPMIFaultTests {
    static func client(url: String, password: String = "pass", timeout: Duration = .milliseconds(300),
        retries: Int = 3, transport: IPMITransport) throws -> IPMIClient
    {
        IPMIClient(
            configuration: BMCConfiguration(
                address: try BMCAddress(parsing: url), username: "admin", password: password, timeout: timeout,
                retries: retries),
            transport: transport, logger: Logger(label: "test.ipmi"))
    }

    /// Runs `body` with a simulator behind a fault-injecting relay (`policy` decides each datagram's fate) and a
    /// client of the relay; the client's transport and the relay are shut down and the simulator stopped afterwards,
    /// also when `body` throws.
    static func withFaultyLink(timeout: Duration, retries: Int, _ policy: @escaping UDPFaultProxy.Policy,
        body: (IPMISimulator, UDPFaultProxy, IPMIClient) async throws -> Void) async throws
    {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let proxy = try await UDPFaultProxy(bmcPort: sim.port, policy: policy)
        let transport = IPMITransport()
        try await withTeardown {
            let client = try Self.client(url: "ipmi://127.0.0.1:\(proxy.port)", timeout: timeout, retries: retries,
                                         transport: transport)
            try await body(sim, proxy, client)
        } teardown: {
            await transport.shutdown()
            await proxy.stop()
        }
    }

    @Test func wrongPasswordIsAStalledAuthenticationFailureThatNeverShowsThePassword() async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let transport = IPMITransport()
        // With 10 s per try, a client that retried would take 40 s; one that stops at RAKP 2 takes milliseconds
        // (the bound below leaves room for a loaded 2-core machine).
        let client = try Self.client(url: sim.url, password: "s3cret-wrong", timeout: .seconds(10), transport: transport)
        let started = ContinuousClock.now
        let error = await #expect(throws: PowerError.self) { try await client.powerState() }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.intent == .stalled)
        #expect(!(error?.description.contains("s3cret-wrong") ?? true))
        #expect(started.duration(to: .now) < .seconds(20), "fails on RAKP 2 at once, without retries")
        await transport.shutdown()
    }

    @Test func aPortNobodyListensOnTimesOutAsUnreachable() async throws {
        let transport = IPMITransport()
        let port = try freePort(udp: true)
        let client = try Self.client(
            url: "ipmi://127.0.0.1:\(port)", timeout: .milliseconds(100), retries: 2, transport: transport)
        let started = ContinuousClock.now
        let error = await #expect(throws: PowerError.self) { try await client.powerState() }
        #expect(error?.code == .unreachable)
        #expect(error?.intent == .transient)
        let elapsed = started.duration(to: .now)
        // Three tries of 100 ms, then give up. The upper bound is loose: with the whole suite running on 2 cores,
        // resuming this test can wait seconds for a free thread.
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(30), "three tries of 100 ms, then give up")
        await transport.shutdown()
    }

    @Test(arguments: [true, false])
    func lostDatagramsAreRetransmitted(towardBMC: Bool) async throws {
        // Drop the first copy of every third datagram in one direction. A datagram counts as lost after 2 s: with
        // 400 ms a late answer on a loaded machine was taken for a lost one, and its retransmit moved the drops.
        try await Self.withFaultyLink(timeout: .seconds(2), retries: 6) { toBMC, index, _ in
            toBMC == towardBMC && index % 3 == 1 ? .drop : .pass
        } body: { sim, proxy, client in
            try await client.setPower(.on)
            #expect(sim.hookPower == "1")
            #expect(try await client.powerState() == .on)
            #expect(proxy.faults.dropped >= 2)
        }
    }

    @Test func garbledResponsesAreDroppedAndTheRequestRetried() async throws {
        // Garble the BMC's first two session answers: the Get Chassis Status response, then the answer to its
        // retransmit. (Counting all answers, 4 and 5, garbled RAKP 2 instead when a loaded machine made the client
        // retransmit during the handshake, and the test saw a wrong password.)
        try await Self.withFaultyLink(timeout: .milliseconds(400), retries: 6) { toBMC, _, session in
            !toBMC && (session == 0 || session == 1) ? .garble : .pass
        } body: { _, proxy, client async throws in
            #expect(try await client.powerState() == .off)
            #expect(proxy.faults.garbled == 2)
        }
    }

    @Test func aBMCThatOnlyGarblesIsAProtocolViolationNotATimeout() async throws {
        // Every session answer (from Get Chassis Status on) is garbled, counted among session messages: a
        // handshake message retransmitted early on a loaded machine would shift a count of all answers and garble
        // RAKP 4 instead.
        try await Self.withFaultyLink(timeout: .milliseconds(500), retries: 2) { toBMC, _, session in
            !toBMC && session != nil ? .garble : .pass
        } body: { _, _, client async throws in
            let error = await #expect(throws: PowerError.self) { try await client.powerState() }
            #expect(error?.code == .protocolViolation)
        }
    }
}
