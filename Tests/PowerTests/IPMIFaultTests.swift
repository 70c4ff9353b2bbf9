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
        let port = try freeUDPPort()
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
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        // Drop the first copy of every third datagram in one direction.
        let proxy = try await UDPFaultProxy(bmcPort: sim.port) { toBMC, index in
            toBMC == towardBMC && index % 3 == 1 ? .drop : .pass
        }
        let transport = IPMITransport()
        let client = try Self.client(url: "ipmi://127.0.0.1:\(proxy.port)", timeout: .milliseconds(400),
            retries: 6, transport: transport)
        try await client.setPower(.on)
        #expect(sim.hookPower == "1")
        #expect(try await client.powerState() == .on)
        #expect(proxy.faults.dropped >= 2)
        await transport.shutdown()
        await proxy.stop()
    }

    @Test func garbledResponsesAreDroppedAndTheRequestRetried() async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        // Garble the BMC's answers 4 and 5: the Get Chassis Status response, then the answer to its retransmit.
        let proxy = try await UDPFaultProxy(bmcPort: sim.port) { toBMC, index in
            !toBMC && (index == 4 || index == 5) ? .garble : .pass
        }
        let transport = IPMITransport()
        let client = try Self.client(url: "ipmi://127.0.0.1:\(proxy.port)", timeout: .milliseconds(400),
            retries: 6, transport: transport)
        #expect(try await client.powerState() == .off)
        #expect(proxy.faults.garbled == 2)
        await transport.shutdown()
        await proxy.stop()
    }

    @Test func aBMCThatOnlyGarblesIsAProtocolViolationNotATimeout() async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let proxy = try await UDPFaultProxy(bmcPort: sim.port) { toBMC, index in
            !toBMC && index >= 4 ? .garble : .pass
        }
        let transport = IPMITransport()
        let client = try Self.client(url: "ipmi://127.0.0.1:\(proxy.port)", timeout: .milliseconds(100),
            retries: 2, transport: transport)
        let error = await #expect(throws: PowerError.self) { try await client.powerState() }
        #expect(error?.code == .protocolViolation)
        await transport.shutdown()
        await proxy.stop()
    }
}
