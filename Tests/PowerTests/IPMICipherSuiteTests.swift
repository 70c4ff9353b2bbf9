import Foundation
import LabSupport
import Logging
import Testing

@testable import Drivers

/// Cipher suite 17 (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128), negotiated strongest first.
///
/// Peers: ipmi_sim speaks suite 3 only (it answers suite 17 with "invalid authentication algorithm"); the suite 17
/// peer is pyghmi's BMC server (`Support/pyghmi_bmc.py`), and ipmitool `-C 17` checks it first, so the client is
/// tested against a BMC a reference client agrees with.
@Suite(.serialized)
struct IPMICipherSuiteTests {
    static func client(_ url: String, password: String = "pass", suites: [IPMICipherSuite],
                       transport: IPMITransport) throws -> IPMIClient {
        IPMIClient(
            configuration: BMCConfiguration(address: try BMCAddress(parsing: url), username: "admin",
                                            password: password, timeout: .seconds(2), retries: 3,
                                            cipherSuites: suites),
            transport: transport, logger: Logger(label: "test.ipmi"))
    }

    /// One pyghmi BMC: every check against it is here, our client's sessions first. The client opens each session
    /// from the same UDP port; pyghmi keys sessions by the client's address, so the peer script starts a fresh
    /// session for each Open Session request (see `pyghmi_bmc.py`), as a BMC does.
    @Test
    func suite17AgainstABMCThatRefusesSuite3() async throws {
        let bmc = try await PyghmiBMC.start(suites: "17")
        defer { bmc.stop() }
        let transport = IPMITransport()
        let client = try Self.client(bmc.url, suites: IPMICipherSuite.strongestFirst, transport: transport)
        #expect(try await client.powerState() == .off, "\(bmc.errors)")
        try await client.setPower(.on)
        try await client.setBootDevice(.pxe, persistence: .once)
        #expect(try await client.powerState() == .on)
        #expect(transport.suites(for: "\(client.configuration.address)", allowed: IPMICipherSuite.strongestFirst)
            .first == .suite17)
        // Suite 3 alone is refused by this BMC, and a wrong password fails authentication over suite 17.
        let legacy = try Self.client(bmc.url, suites: [.suite3], transport: transport)
        await #expect(throws: PowerError.self) { try await legacy.powerState() }
        let wrong = try Self.client(bmc.url, password: "wrong", suites: [.suite17], transport: transport)
        await #expect(throws: PowerError.self) { try await wrong.powerState() }
        await transport.shutdown()
        #expect(bmc.log.contains("power on"))
        #expect(bmc.log.contains("boot network"))
        // The reference client agrees: suite 17 works and reads back what our client set; suite 3 is refused.
        let reference = try await bmc.ipmitool(suite: 17, ["chassis", "power", "status"])
        #expect(reference.status == 0 && reference.output.contains("Chassis Power is on"), "\(reference.output)")
        let weak = try await bmc.ipmitool(suite: 3, ["chassis", "power", "status"])
        #expect(weak.status != 0, "\(weak.output)")
    }

    @Test func fallsBackToSuite3OnIPMISimAndRemembersIt() async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let transport = IPMITransport()
        let client = try Self.client(sim.url, password: sim.password, suites: IPMICipherSuite.strongestFirst,
                                     transport: transport)
        try await client.setPower(.on)
        #expect(sim.hookPower == "1")
        let bmc = "\(client.configuration.address)"
        #expect(transport.suites(for: bmc, allowed: IPMICipherSuite.strongestFirst) == [.suite3, .suite17])
        #expect(try await client.powerState() == .on)
        await transport.shutdown()
    }

    @Test func aSiteThatForbidsSuite3RefusesASuite3OnlyBMC() async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let transport = IPMITransport()
        let client = try Self.client(sim.url, password: sim.password, suites: [.suite17], transport: transport)
        do {
            try await client.setPower(.on)
            Issue.record("a suite-3-only BMC was driven although suite 3 is forbidden")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.description.contains("none of the allowed cipher suites (17)"), "\(error)")
        }
        #expect(sim.hookPower != "1")
        await transport.shutdown()
    }
}
