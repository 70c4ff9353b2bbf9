import Logging
import Testing

@testable import Drivers

/// The native IPMI client against a real `ipmi_sim` BMC.
struct IPMISimulatorPowerTests {
    @Test func readsPowerStateAndPowersOnAndOff() async throws {
        let sim = try IPMISimulator()
        defer { sim.stop() }
        let transport = IPMITransport()
        let client = IPMIClient(
            configuration: BMCConfiguration(
                address: try BMCAddress(parsing: sim.url), username: sim.username, password: sim.password),
            transport: transport, logger: { var l = Logger(label: "test"); l.logLevel = .trace; return l }())
        #expect(try await client.powerState() == .off)
        try await client.setPower(.on)
        #expect(sim.hookPower == "1")
        #expect(try await client.powerState() == .on)
        try await client.setPower(.off)
        #expect(sim.hookPower == "0")
        #expect(try await client.powerState() == .off)
        await transport.shutdown()
    }
}
