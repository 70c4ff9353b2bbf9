import Foundation
import LabSupport
import Logging
import Testing

@testable import Drivers

/// The native IPMI client against real `ipmi_sim` BMCs, cross-checked with `ipmitool -I lanplus`.
struct IPMISimulatorPowerTests {
    static func client(_ sim: IPMISimulator, transport: IPMITransport) throws -> IPMIClient {
        IPMIClient(
            configuration: BMCConfiguration(
                address: try BMCAddress(parsing: sim.url), username: sim.username, password: sim.password),
            transport: transport, logger: Logger(label: "test.ipmi"))
    }

    /// Runs `body` with a new simulator and a client of it; the client's transport is shut down and the simulator
    /// stopped afterwards, also when `body` throws.
    static func withClient(_ body: (IPMISimulator, IPMIClient) async throws -> Void) async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let transport = IPMITransport()
        do {
            try await body(sim, try client(sim, transport: transport))
        } catch {
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
    }

    @Test func readsPowerStateAndPowersOnAndOffThroughTheChassisHook() async throws {
        try await Self.withClient { sim, client in
            #expect(try await client.powerState() == .off)
            try await client.setPower(.on)
            #expect(sim.hookPower == "1")
            #expect(try await client.powerState() == .on)
            try await client.setPower(.off)
            #expect(sim.hookPower == "0")
            #expect(try await client.powerState() == .off)
            try await client.setPower(.cycle)
            try await client.setPower(.reset)
            #expect(sim.hookLog.contains("power 1"))
            #expect(sim.hookLog.contains("power 0"))
        }
    }

    @Test func setsNextBootToPXEAndIpmitoolReadsItBack() async throws {
        try await Self.withClient { sim, client in
            try await client.setBootDevice(.pxe, persistence: .once)
            #expect(sim.hookLog.contains("boot pxe"))
            #expect(try await client.bootFlags().device == .pxe)
            let readBack = try await ipmitool(sim, ["chassis", "bootparam", "get", "5"])
            #expect(readBack.contains("Force PXE"))
            try await client.setBootDevice(.disk, persistence: .once)
            #expect(sim.hookLog.last?.hasPrefix("boot ") == true && sim.hookLog.last != "boot pxe")
        }
    }

    @Test func agreesWithIpmitoolOnTheSameSimulator() async throws {
        try await Self.withClient { sim, client in
            try await client.setPower(.on)
            await #expect(try ipmitool(sim, ["chassis", "power", "status"]).contains("Chassis Power is on"))
            _ = try await ipmitool(sim, ["chassis", "power", "off"])
            #expect(try await client.powerState() == .off)
        }
    }

    /// Asked for "the highest privilege" (0, FreeIPMI's default), ipmi_sim answers maximum privilege level 0, which
    /// FreeIPMI refuses without `-W opensesspriv`. We accept it and still get an ADMINISTRATOR session, which Chassis
    /// Control needs.
    @Test func acceptsThePrivilegeLevelZeroQuirkOfIpmiSim() async throws {
        let sim = try await IPMISimulator.start()
        defer { sim.stop() }
        let transport = IPMITransport()
        let client = IPMIClient(
            configuration: BMCConfiguration(
                address: try BMCAddress(parsing: sim.url), username: sim.username, password: sim.password),
            transport: transport, logger: Logger(label: "test.ipmi"), openSessionPrivilege: 0)
        let quirks = try await client.sessionQuirks()
        #expect(quirks.contains { $0.contains("maximum privilege level 0") })
        try await client.setPower(.on)
        #expect(sim.hookPower == "1")
        await transport.shutdown()
    }

    @Test func manyBMCsAtOnceOverOneSocket() async throws {
        var sims: [IPMISimulator] = []
        defer { sims.forEach { $0.stop() } }
        for _ in 0..<8 { sims.append(try await IPMISimulator.start()) }
        let transport = IPMITransport()
        let clients = try sims.map { try Self.client($0, transport: transport) }
        let results = await boundedConcurrentMap(clients, limit: 4) { client in
            do throws(PowerError) {
                try await client.setPower(.on)
                return try await client.powerState() == .on
            } catch {
                return false
            }
        }
        #expect(results == Array(repeating: true, count: 8))
        #expect(sims.allSatisfy { $0.hookPower == "1" })
        await transport.shutdown()
    }

    @Test func concurrentCallsToOneBMCAreSerialized() async throws {
        try await Self.withClient { _, client in
            let states = await boundedConcurrentMap(Array(0..<6), limit: 6) { _ in
                try? await client.powerState()
            }
            #expect(states == Array(repeating: .off, count: 6))
        }
    }
}

/// Runs `ipmitool -I lanplus -C 3` against a simulator and returns its standard output.
func ipmitool(_ sim: IPMISimulator, _ arguments: [String]) async throws -> String {
    let connection = [
        "-I", "lanplus", "-H", "127.0.0.1", "-p", "\(sim.port)", "-U", sim.username, "-P", sim.password, "-C", "3",
    ]
    return try await runProcess("/usr/bin/ipmitool", connection + arguments).stdout
}
